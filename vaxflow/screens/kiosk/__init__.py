"""The kiosk's screens: one module and one .kv per screen (`registry`), texts and catalogues.

Importing this package does not import Kivy; `registry` and the screen modules do.
"""
