"""Pairing: how the browser extension gets the control API's token, once.

`veil run` prints a short code; the user types it into the extension's options page, which
sends it to ``POST /api/v1/pair`` and gets the token back. Chromium's extension has a fixed id,
so its origin is allowed by default. Firefox gives each install a random
``moz-extension://<uuid>`` origin: such an origin may call ``/pair`` only, and a successful
pairing records it (in ``$VEIL_HOME/paired-origins``) so that it is allowed from then on.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_ATTEMPTS",
    "PAIRABLE_ORIGIN",
    "Pairing",
    "PairingError",
    "format_code",
]

# Crockford-like: no 0/O or 1/I/L to misread. 8 characters are 40 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 8
# Wrong codes burn the current one: a guesser gets this many tries per printed code.
MAX_ATTEMPTS = 5
# Origins that may try a code without being allowed already: Firefox's per-install origins.
PAIRABLE_ORIGIN = re.compile(
    r"moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# The paired-origins file lets its readers call the API: only its owner may read it.
ORIGINS_MODE = 0o600


class PairingError(ValueError):
    """A pairing attempt that failed: wrong, used-up or malformed code."""


def format_code(code: str) -> str:
    """``ABCDEFGH`` -> ``ABCD-EFGH``, as printed for people."""
    return f"{code[:4]}-{code[4:]}"


def _clean(code: object) -> str:
    if not isinstance(code, str) or len(code) > 32:
        raise PairingError("code must be the pairing code that `veil run` printed")
    return re.sub(r"[\s-]", "", code).upper()


class Pairing:
    """The current code, the origins allowed to call the API, and the record of paired ones.

    ``on_new_code(code)`` is called with each new code (printed by `veil run`), including the
    first one, after a successful pairing and after ``MAX_ATTEMPTS`` wrong tries.
    """

    def __init__(
        self,
        fixed_origins: tuple[str, ...],
        origins_path: Path | None = None,
        on_new_code: Callable[[str], None] | None = None,
    ) -> None:
        self.fixed_origins = tuple(fixed_origins)
        self.origins_path = origins_path
        self.on_new_code = on_new_code
        self._paired: set[str] = set()
        if origins_path is not None and origins_path.exists():
            lines = origins_path.read_text().split()
            self._paired = {line for line in lines if PAIRABLE_ORIGIN.fullmatch(line)}
        self.code = ""
        self._failures = 0
        self.new_code()

    @property
    def paired_origins(self) -> frozenset[str]:
        return frozenset(self._paired)

    def new_code(self) -> str:
        """Replace the current code with a fresh one and announce it."""
        self.code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        self._failures = 0
        if self.on_new_code is not None:
            self.on_new_code(self.code)
        return self.code

    def allowed(self, origin: str) -> bool:
        """May this Origin call the API (with the token)?"""
        return origin in self.fixed_origins or origin in self._paired

    def may_pair(self, origin: str | None) -> bool:
        """May this Origin try a code? Allowed origins, Firefox extensions, and no Origin
        (a local program: it could read the token file anyway)."""
        return origin is None or self.allowed(origin) or bool(PAIRABLE_ORIGIN.fullmatch(origin))

    def redeem(self, code: object, origin: str | None) -> None:
        """Check a code; on success record the origin and issue the next code.

        Raises:
            PairingError: the code is malformed or wrong (after too many, a new code is issued).
        """
        given = _clean(code)
        if not hmac.compare_digest(given.encode(), self.code.encode()):
            self._failures += 1
            if self._failures >= MAX_ATTEMPTS:
                self.new_code()
                raise PairingError(
                    "wrong pairing code; too many tries: `veil run` printed a new one"
                )
            raise PairingError("wrong pairing code")
        if origin is not None and not self.allowed(origin):
            self._remember(origin)
        self.new_code()  # single use: a second browser pairs with the next printed code

    def _remember(self, origin: str) -> None:
        self._paired.add(origin)
        if self.origins_path is None:
            return
        fd = os.open(self.origins_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, ORIGINS_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(f"{line}\n" for line in sorted(self._paired)))
