"""The web pages served by the site server: plain HTML, CSS and JS modules, no build step."""
