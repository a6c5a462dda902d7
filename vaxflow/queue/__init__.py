"""The site's state: domain model, engine, store, server and client."""
