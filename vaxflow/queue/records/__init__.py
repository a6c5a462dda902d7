"""Records out of the site: the daily report rendered as HTML, and the registry export (FHIR)."""
