"""proxy/logsafe.py: no secret reaches a log, in a message or a traceback."""

from __future__ import annotations

import io
import logging

from proxy.logsafe import RedactSecrets

TOKEN = "s3cr3t-token-VALUE_0123456789"


def test_the_token_and_bearer_credentials_are_blanked_everywhere() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([TOKEN]))
    logger = logging.getLogger("veil.test.logsafe")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("bad header %r", f"Authorization: Bearer {TOKEN}\x00")
        logger.warning("someone else's: Authorization: bearer other-credential")
        try:
            raise ValueError(f"Invalid header value: b'Bearer {TOKEN}\\x00'")
        except ValueError:
            logger.exception("Error handling request")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and "other-credential" not in text
    assert text.count("[redacted]") >= 3 and "Error handling request" in text
    assert "Traceback" in text  # the traceback is kept, only the secret goes
