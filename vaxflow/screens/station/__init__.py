"""The Kivy station console (the web console is vaxflow/screens/web/station.html)."""
