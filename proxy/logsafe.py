"""Secrets never reach a log: a filter on the log handlers that blanks the control API's
token and any bearer credential, in messages and tracebacks alike.

aiohttp logs a request line or header it cannot parse (a NUL after the token) together with
the raw bytes; a filter at the handlers catches that and whatever else repeats a header.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["RedactSecrets", "redact_logs"]

REDACTED = "[redacted]"
# A bearer credential as a header carries it, wherever it turns up in a message.
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",\\]+")


class RedactSecrets(logging.Filter):
    """Rewrites each record so that none of ``secrets`` nor a bearer credential shows."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _BEARER.sub(lambda match: match.group(1) + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_logs(*secrets: str) -> RedactSecrets:
    """Put a :class:`RedactSecrets` on every handler of the root logger (a handler sees the
    records of every logger that propagates to it)."""
    redactor = RedactSecrets(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.addFilter(redactor)
    return redactor
