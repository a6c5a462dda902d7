"""The functional core of the site: domain records, pure rules and transitions; no SQL, no I/O."""
