"""The store: the only package that speaks SQL (tables, the writer, queries, migrations).

`Conn` is the open connection the operations pass to store functions, named here so that
code outside the store can type its parameters without importing SQLAlchemy.
"""

from sqlalchemy import Connection

Conn = Connection

__all__ = ["Conn"]
