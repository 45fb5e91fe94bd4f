"""Pairing codes and the record of paired Firefox origins (the API side: test_api.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy import pairing as pairing_module
from proxy.pairing import CODE_ALPHABET, CODE_LENGTH, Pairing, PairingError, format_code

CHROME = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FIREFOX = "moz-extension://0f3c6e0a-9d1b-4c59-9b0e-2f1f6c3b8a11"


def test_all_matches_public_names() -> None:
    assert all(hasattr(pairing_module, name) for name in pairing_module.__all__)


def test_codes_are_fresh_and_readable() -> None:
    announced: list[str] = []
    pairing = Pairing((CHROME,), on_new_code=announced.append)
    codes = {pairing.new_code() for _ in range(50)}
    assert len(codes) == 50 and announced[-1] == pairing.code and len(announced) == 51
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert format_code("ABCDEFGH") == "ABCD-EFGH"


def test_who_may_pair() -> None:
    pairing = Pairing((CHROME,))
    assert pairing.allowed(CHROME) and not pairing.allowed(FIREFOX)
    assert pairing.may_pair(CHROME) and pairing.may_pair(FIREFOX) and pairing.may_pair(None)
    for origin in ("https://evil.example", "null", "moz-extension://x", FIREFOX.upper()):
        assert not pairing.may_pair(origin), origin


def test_redeem_records_origins_privately(tmp_path: Path) -> None:
    path = tmp_path / "paired-origins"
    pairing = Pairing((CHROME,), path)
    pairing.redeem(f" {format_code(pairing.code).lower()} ", CHROME)
    assert not path.exists(), "an origin allowed already is not recorded"
    pairing.redeem(pairing.code, FIREFOX)
    assert pairing.allowed(FIREFOX) and path.read_text() == FIREFOX + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text(FIREFOX + "\nhttps://evil.example\n")  # a hand-edited file: junk ignored
    assert Pairing((CHROME,), path).paired_origins == {FIREFOX}


@pytest.mark.parametrize("code", [None, 12345678, "", "A" * 33, ["ABCDEFGH"]])
def test_bad_codes_are_refused(code: object) -> None:
    pairing = Pairing((CHROME,))
    with pytest.raises(PairingError, match="code"):
        pairing.redeem(code, CHROME)
