"""Kivy boards for native displays (the web boards are in vaxflow/screens/web)."""
