"""The HL7 v2 target: VXU^V04 over MLLP (python-hl7), one message and its ACK at a time.

The connection is kept open between messages and opened again after any failure. MSA-1 AA
is done, AE needs fixing (with MSA-3/ERR words), AR is retried later; an ACK for another
message id (a late ACK of an earlier attempt) is skipped.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import hl7
from hl7.mllp import InvalidBlockError, open_hl7_connection

from vaxflow.clock import Clock
from vaxflow.config import Settings
from vaxflow.config.schema import Hl7Uplink
from vaxflow.queue.core.outbox import Action, Outcome, Verdict, ack_verdict, message_id
from vaxflow.queue.records.hl7v2 import vxu
from vaxflow.queue.store import outbox
from vaxflow.queue.store.outbox import OutboxRow
from vaxflow.queue.store.writer import Store

log = logging.getLogger(__name__)

#: ACKs of other messages read before ours gives up (a stale one per failed attempt at most).
_MAX_STALE_ACKS = 20


def _field(message: Any, segment: str, index: int) -> str:
    try:
        return str(message.segment(segment)[index])
    except (KeyError, IndexError):
        return ""


class Hl7Sender:
    """Sends dose rows to one MLLP listener."""

    def __init__(self, config: Hl7Uplink, store: Store, settings: Settings, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.settings = settings
        self.clock = clock
        self._streams: tuple[Any, Any] | None = None

    async def close(self) -> None:
        """Close the connection (the worker stops, or the link failed)."""
        streams, self._streams = self._streams, None
        if streams is not None:
            writer = streams[1]
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def __call__(self, row: OutboxRow) -> Verdict:
        assert row.dose_id is not None
        dose_id = row.dose_id
        record = await self.store.read(lambda c: outbox.dose_record(c, dose_id))
        if record is None:
            return Verdict(Outcome.NEEDS_FIXING, "the dose is no longer in the site's records")
        control_id = message_id(self.settings.site.id, row.id)
        text = vxu(
            record,
            self.settings,
            message_id=control_id,
            # a struck dose stays struck, whatever a row written before the strike says
            action=Action.DELETE.value if record.struck_at is not None else row.action,
            dose_key=row.record_key,
            now=self.clock.now(),
            receiving_application=self.config.receiving_application,
            receiving_facility=self.config.receiving_facility,
            sending_facility=self.config.sending_facility,
        )
        try:
            return await self._exchange(hl7.parse(text), control_id)
        except (EOFError, InvalidBlockError, ValueError) as err:  # closed or garbled mid-ACK
            await self.close()
            raise ConnectionError(f"the MLLP link broke: {type(err).__name__}") from err
        except BaseException:
            await self.close()  # a half-read ACK must not be taken for the next message's
            raise

    async def _exchange(self, message: Any, control_id: str) -> Verdict:
        if self._streams is None:
            self._streams = await open_hl7_connection(
                self.config.host, self.config.port, encoding="utf-8"
            )
        reader, writer = self._streams
        writer.writemessage(message)
        await writer.drain()
        for _ in range(_MAX_STALE_ACKS):
            ack = await reader.readmessage()
            if _field(ack, "MSA", 2) != control_id:
                log.info("hl7: skipped an ACK for %s", _field(ack, "MSA", 2))
                continue
            words = _field(ack, "MSA", 3) or _field(ack, "ERR", 8)
            return ack_verdict(_field(ack, "MSA", 1), words)
        await self.close()
        return Verdict(Outcome.RETRY, "no ACK for this message")
