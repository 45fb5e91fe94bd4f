"""Byte-exact multipart parsing: round trips, part fields, replacement, malformed bodies."""

from __future__ import annotations

import random
import re

import pytest

from proxy import multipart
from proxy.headers import parse_header_params
from proxy.multipart import MalformedBody, boundary_from_content_type, parse_multipart

BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def form_body(
    parts: list[tuple[bytes, bytes]], boundary: str = BOUNDARY, newline: bytes = b"\r\n"
) -> bytes:
    """A multipart body as a browser frames it, from (header lines, content) pairs."""
    dash = b"--" + boundary.encode()
    out = b""
    for head, content in parts:
        out += dash + newline + head + newline + content + newline
    return out + dash + b"--" + newline


def field(name: str, value: bytes) -> tuple[bytes, bytes]:
    return f'Content-Disposition: form-data; name="{name}"\r\n'.encode(), value


def file_part(name: str, filename: str, content_type: str, data: bytes) -> tuple[bytes, bytes]:
    head = (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n"
    ).encode()
    return head, data


def noisy_bytes(seed: int, size: int, boundary: str = BOUNDARY) -> bytes:
    """Random bytes rich in CR, LF, "--" and near-misses of the delimiter."""
    rng = random.Random(seed)
    pieces = [
        b"\r\n",
        b"\n",
        b"\r",
        b"--",
        b"\r\n--",
        b"\r\n--" + boundary.encode()[:-1],  # a prefix of the delimiter
        b"\r\n--" + boundary.encode() + b"X",  # the boundary continued by another byte
        b"x--" + boundary.encode() + b"\r\n",  # the boundary line without its leading CRLF
        b"\r\n--" + boundary.encode() + b"--junk",  # a close look-alike followed by data
    ]
    out = bytearray()
    while len(out) < size:
        if rng.random() < 0.3:
            out += rng.choice(pieces)
        else:
            out += rng.randbytes(rng.randint(1, 24))
    real = re.compile(rb"\n--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(\r?\n|$)")
    assert not real.search(out), "the generator made a real delimiter: pick another seed"
    return bytes(out)


B = BOUNDARY.encode()
ONE_FIELD = form_body([field("a", b"1")])
ROUND_TRIPS = {
    "browser": form_body([field("caption", b"hi"), file_part("f", "a.bin", "x/y", b"\x00\r\n")]),
    "preamble-epilogue": b"This is a preamble\r\n" + ONE_FIELD + b"epilogue\r\n",
    "no-final-crlf": ONE_FIELD[:-2],
    "padding": ONE_FIELD.replace(B + b"\r\n", B + b" \t \r\n"),
    "empty-parts": b"--%s\r\n\r\n--%s\r\n\r\n\r\n--%s\r\nX: y\r\n--%s--" % (B, B, B, B),
    "bare-lf": form_body(
        [(b'Content-Disposition: form-data; name="a"\n', b"1\r\n2")], newline=b"\n"
    ),
    "no-parts": b"--%s--\r\n" % B,
    "look-alikes": form_body([field("a", b"x--%s\r\n--%sz" % (B, B))]),
    "empty-content": form_body([field("a", b""), file_part("f", "", "x/y", b"")]),
}


@pytest.mark.parametrize("body", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_unmodified_parse_serializes_to_identical_bytes(body: bytes) -> None:
    assert parse_multipart(body, BOUNDARY).serialize() == body


@pytest.mark.parametrize("seed", range(12))
def test_random_binary_parts_round_trip_and_keep_their_bytes(seed: int) -> None:
    contents = [noisy_bytes(seed * 10 + i, 200 + 150 * i) for i in range(3)]
    body = form_body([file_part(f"f{i}", f"{i}.bin", "x/y", c) for i, c in enumerate(contents)])
    parsed = parse_multipart(body, BOUNDARY)
    assert [part.body for part in parsed.parts] == contents
    assert parsed.serialize() == body


def test_look_alikes_stay_inside_the_part() -> None:
    content = b"a\r\n--" + BOUNDARY.encode() + b"X\r\nb--" + BOUNDARY.encode() + b"\r\nc"
    parsed = parse_multipart(form_body([field("a", content), field("b", b"2")]), BOUNDARY)
    assert [part.body for part in parsed.parts] == [content, b"2"]


def test_empty_parts_and_headers_only_parts() -> None:
    parsed = parse_multipart(ROUND_TRIPS["empty-parts"], BOUNDARY)
    assert [(part.head, part.body) for part in parsed.parts] == [
        (b"", b""),
        (b"\r\n", b""),
        (b"X: y", b""),
    ]
    assert parsed.parts[2].header("x") == "y"


def test_bare_lf_framing_is_kept() -> None:
    parsed = parse_multipart(ROUND_TRIPS["bare-lf"], BOUNDARY)
    assert parsed.newline == b"\n"
    assert parsed.parts[0].name == "a"
    assert parsed.parts[0].body == b"1\r\n2"


def test_preamble_and_epilogue_are_separate() -> None:
    parsed = parse_multipart(ROUND_TRIPS["preamble-epilogue"], BOUNDARY)
    assert parsed.preamble == b"This is a preamble"
    assert parsed.epilogue == b"\r\nepilogue\r\n"
    assert [part.body for part in parsed.parts] == [b"1"]


def test_part_fields_from_headers() -> None:
    head = (
        b'content-disposition: FORM-DATA; Name="photo"; filename="plain.jpg";\r\n'
        b"  filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.jpg\r\n"
        b"CONTENT-TYPE: Image/JPEG; charset=binary\r\n"
    )
    part = parse_multipart(form_body([(head, b"data")]), BOUNDARY).parts[0]
    assert part.name == "photo"
    assert part.filename == "été €.jpg"  # filename* wins over filename, folded line joined
    assert part.content_type == "image/jpeg"
    assert part.header("Content-Type") == "Image/JPEG; charset=binary"
    assert part.header("x-missing") is None


@pytest.mark.parametrize(
    ("head", "filename"),
    [
        ('form-data; name="f"; filename="a;b \\"q\\".png"', 'a;b "q".png'),
        ('form-data; name="f"; filename="C:\\dir\\x.png"', "C:\\dir\\x.png"),
        ("form-data; name=f; filename=bare.gif", "bare.gif"),
        ("form-data; name=f; filename*0*=UTF-8''%E2%82%AC; filename*1=-tail.jpg", "€-tail.jpg"),
        ("form-data; name=f", None),
    ],
)
def test_filename_forms(head: str, filename: str | None) -> None:
    body = form_body([(f"Content-Disposition: {head}\r\n".encode(), b"x")])
    assert parse_multipart(body, BOUNDARY).parts[0].filename == filename


def test_raw_utf8_and_latin1_file_names() -> None:
    utf8 = b'Content-Disposition: form-data; name="f"; filename="\xc3\xa9.jpg"\r\n'
    latin1 = b'Content-Disposition: form-data; name="f"; filename="\xe9.jpg"\r\n'
    parsed = parse_multipart(form_body([(utf8, b"1"), (latin1, b"2")]), BOUNDARY)
    assert [part.filename for part in parsed.parts] == ["é.jpg", "é.jpg"]


def test_replacing_a_body_changes_only_that_part() -> None:
    before, old, after = field("a", b"1"), noisy_bytes(7, 300), field("c", b"3")
    body = form_body([before, file_part("b", "b.bin", "x/y", old), after])
    parsed = parse_multipart(body, BOUNDARY)
    new = b"\r\nnew\r\n--content"
    out = parsed.replace_body(1, new).serialize()
    start = body.index(old)
    assert out == body[:start] + new + body[start + len(old) :]
    assert parse_multipart(out, BOUNDARY).parts[1].body == new
    assert parsed.serialize() == body  # the original parse is untouched


def test_replacing_a_headers_only_part_adds_the_blank_line() -> None:
    parsed = parse_multipart(ROUND_TRIPS["empty-parts"], BOUNDARY)
    for index in range(3):
        out = parsed.replace_body(index, b"BODY").serialize()
        reparsed = parse_multipart(out, BOUNDARY)
        assert reparsed.parts[index].body == b"BODY"
        assert reparsed.parts[index].headers == parsed.parts[index].headers


@pytest.mark.parametrize(
    "new", [b"x\r\n--" + BOUNDARY.encode() + b"\r\n", b"--" + BOUNDARY.encode() + b"--"]
)
def test_replacement_containing_the_delimiter_is_refused(new: bytes) -> None:
    parsed = parse_multipart(form_body([field("a", b"1")]), BOUNDARY)
    with pytest.raises(MalformedBody, match="boundary"):
        parsed.replace_body(0, new)


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        (f"multipart/form-data; boundary={BOUNDARY}", BOUNDARY),
        ('Multipart/Form-Data; BOUNDARY="a b:c"', "a b:c"),
        ("multipart/mixed; charset=utf-8; boundary=xyz ; foo=bar", "xyz"),
        ('multipart/form-data;boundary="q\\"x"', 'q"x'),
    ],
)
def test_boundary_from_content_type(content_type: str, boundary: str) -> None:
    assert boundary_from_content_type(content_type) == boundary


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        'multipart/form-data; boundary=""',
        "application/json; boundary=abc",
        "multipart/form-data; boundary=" + "x" * 300,
        "multipart/form-data; boundary=\u2603",
        "",
    ],
)
def test_bad_content_types_raise(content_type: str) -> None:
    with pytest.raises(MalformedBody):
        boundary_from_content_type(content_type)


MALFORMED = {
    "empty": b"",
    "no-boundary-line": b"just some text\r\n",
    "no-close": f"--{BOUNDARY}\r\nX: y\r\n\r\nbody".encode(),
    "truncated-close": f"--{BOUNDARY}\r\n\r\nbody\r\n--{BOUNDARY}".encode(),
    "close-then-junk": f"--{BOUNDARY}\r\n\r\nbody\r\n--{BOUNDARY}--junk".encode(),
    "only-look-alikes": f"--{BOUNDARY}X\r\n\r\n--{BOUNDARY}Y--\r\n".encode(),
    "other-boundary": form_body([field("a", b"1")], boundary="other"),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_raise(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_multipart(body, BOUNDARY)


@pytest.mark.parametrize("boundary", ["", "a\r\nb", "\u2603"])
def test_invalid_boundary_raises(boundary: str) -> None:
    with pytest.raises(MalformedBody, match="boundary"):
        parse_multipart(ONE_FIELD, boundary)


def test_malformed_body_is_a_value_error() -> None:
    assert issubclass(MalformedBody, ValueError)


def test_header_params_lowercase_names_and_keep_values() -> None:
    parsed = parse_header_params('Form-Data; NAME="A b"; x=1')
    assert parsed == ("form-data", {"name": "A b", "x": "1"})


def test_public_surface_matches_all() -> None:
    public = {
        name
        for name, value in vars(multipart).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == multipart.__name__
    }
    assert public == set(multipart.__all__)
