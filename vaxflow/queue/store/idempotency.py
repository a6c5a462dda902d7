"""The answers kept for Idempotency-Key: a retried request gets the first answer, not a
second ticket or a second dose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select

from vaxflow.queue.store import tables as t
from vaxflow.queue.store.prepared import Prepared

# Built once with bind parameters (see repo.py): they run on every write request.
_FIND_REPLY = Prepared(
    select(t.idempotency.c.request_hash, t.idempotency.c.status, t.idempotency.c.response).where(
        t.idempotency.c.site_id == bindparam("site_id"),
        t.idempotency.c.actor == bindparam("actor"),
        t.idempotency.c.key == bindparam("key"),
    )
)
_SAVE_REPLY = Prepared(
    insert(t.idempotency),
    columns=("site_id", "actor", "key", "request_hash", "status", "response", "created_at"),
)


@dataclass(frozen=True)
class Reply:
    """The first answer given to one (actor, key): the request it answered and the answer."""

    request_hash: str
    status: int
    response: str
    """The answer's JSON text, as it was sent."""


def find_reply(conn: Connection, site_id: str, actor: str, key: str) -> Reply | None:
    """The answer kept for this actor's key, None for a key not seen yet."""
    row = _FIND_REPLY.first(conn, {"site_id": site_id, "actor": actor, "key": key})
    if row is None:
        return None
    return Reply(row.request_hash, row.status, row.response)


def save_reply(
    conn: Connection, site_id: str, actor: str, key: str, reply: Reply, at: datetime
) -> None:
    """Keep the answer to this actor's key, in the same transaction as the change it made."""
    _SAVE_REPLY.run(
        conn,
        {
            "site_id": site_id,
            "actor": actor,
            "key": key,
            "request_hash": reply.request_hash,
            "status": reply.status,
            "response": reply.response,
            "created_at": at,
        },
    )
