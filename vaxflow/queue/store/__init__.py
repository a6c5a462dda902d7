"""The store: the only package that speaks SQL (tables, the writer, queries, migrations)."""
