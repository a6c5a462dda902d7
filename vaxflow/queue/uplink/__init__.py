"""What leaves the site: one worker per target sends the outbox's rows (issue 15)."""
