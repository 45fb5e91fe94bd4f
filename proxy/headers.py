"""Header values with parameters (``form-data; name="file"; filename*=UTF-8''...``), as
RFC 7231 and RFC 2231 write them. Pure Python."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

__all__ = ["parse_header_params"]

# One parameter of a header value: name, then a quoted string or a token.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.DOTALL)
_RFC2231_SECTION = re.compile(r"^(?P<name>[^*]+)\*(?P<index>\d+)(?P<encoded>\*?)$")


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a header value into its lower-cased main value and its parameters.

    Parameter names are lower-cased; quoted values are unquoted; RFC 2231 extended values
    (``name*=UTF-8''...`` and ``name*0*=`` continuations) are decoded and take precedence
    over the plain form.

    >>> parse_header_params('form-data; name="file"; filename="a b.jpg"')
    ('form-data', {'name': 'file', 'filename': 'a b.jpg'})
    """
    main, _, rest = value.partition(";")
    plain: dict[str, str] = {}
    extended: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(";" + rest):
        name, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            # Unescape only \" and \\: browsers send Windows-style backslashes in names verbatim.
            raw = re.sub(r'\\(["\\])', r"\1", raw[1:-1])
        section = _RFC2231_SECTION.match(name)
        if section:
            sections.setdefault(section["name"], []).append(
                (int(section["index"]), bool(section["encoded"]), raw)
            )
        elif name.endswith("*"):
            extended[name[:-1]] = _decode_rfc2231(raw, first=True)
        else:
            plain[name] = raw
    for name, pieces in sections.items():
        pieces.sort()
        text = "".join(
            _decode_rfc2231(raw, first=index == 0) if encoded else raw
            for index, encoded, raw in pieces
        )
        extended.setdefault(name, text)
    return main.strip().lower(), plain | extended


def _decode_rfc2231(raw: str, first: bool) -> str:
    """Decode ``charset'lang'%xx`` (only the first section carries the charset)."""
    charset = "utf-8"
    if first and raw.count("'") >= 2:
        charset, _, raw = raw.split("'", 2)
    data = unquote_to_bytes(raw)
    try:
        return data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return data.decode("latin-1")
