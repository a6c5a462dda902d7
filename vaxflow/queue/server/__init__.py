"""The site server, aiohttp only: app factory, app keys, routes, models, auth, feed, handlers."""
