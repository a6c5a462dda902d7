"""The site API's request and response models, shared by the server and its clients."""
