"""The site server's clients: the HTTP client and the console and board view-models, no Kivy."""
