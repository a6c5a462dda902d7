"""Alembic environment of the region database: its own version table, on the store's connection.

The region's history is separate from a site's (`region_alembic_version`, not
`alembic_version`), so a region database and a site's PostgreSQL never read each other's
revisions, even in one database.
"""

from __future__ import annotations

from alembic import context

from vaxflow.region.store import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
