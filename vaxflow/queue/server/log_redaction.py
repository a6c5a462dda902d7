"""Tokens never reach a log: a filter that blanks bearer tokens and staff session tokens.

aiohttp itself logs a WebSocket's offered subprotocols (`Client protocols ['bearer.…']`)
when none matches; our handlers never log a token, but a stray `%r` of headers would. The
filter rewrites each record's message: `bearer.X`, `Bearer X`, `X-Staff-Session: X` and every
token the site file knows become `[redacted]`. It sits on the loggers that see requests and
on the root logger's handlers, so a record logged anywhere below is cleaned before output.
"""

from __future__ import annotations

import logging
import re

from vaxflow.config import Settings

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"(bearer\.)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(X-Staff-Session['\"]?\s*[:=,]\s*['\"]?)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
)
#: Loggers whose own records are filtered (records of their children propagate through the
#: root handlers, which carry the filter too).
LOGGERS = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "vaxflow",
)


class RedactTokens(logging.Filter):
    """Blank every token in a record's message (the record passes, cleaned)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def redact(self, text: str) -> str:
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        for token in self.tokens:
            if token in text:
                text = text.replace(token, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


#: The one filter of the process (create_app may run many times in tests).
FILTER = RedactTokens()


def install(settings: Settings) -> RedactTokens:
    """Put the filter on the request loggers and the root handlers; learn the site's tokens."""
    FILTER.tokens |= {t for tokens in settings.tokens.values() for t in tokens}
    FILTER.tokens |= {d.token for d in settings.device_tokens.values()}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
    for handler in logging.getLogger().handlers:
        if FILTER not in handler.filters:
            handler.addFilter(FILTER)
    return FILTER
