"""Hostile upload bodies, generated: image data hidden where a naive proxy would not look, in
formats Veil cannot rewrite, or wrapped in encodings and containers. Each case says what
must become of it on a protected site: ``protected`` (every image rewritten), ``blocked``
(the failure rule; the original never leaves) or ``untouched`` (no image: sent as is).

The addon tests run every case through the upload protector; the end-to-end tests run a
few through a real `veil run`.
"""

from __future__ import annotations

import base64
import functools
import gzip
import io
import json
import random
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from typing import Literal

import brotli
import zstandard
from PIL import Image

Handling = Literal["protected", "blocked", "untouched"]
BOUNDARY = "----VeilHostile7MA4YWxkTrZu0gW"
FORM = f"multipart/form-data; boundary={BOUNDARY}"
JSON, BINARY = "application/json", "application/octet-stream"


@dataclass(frozen=True)
class Hostile:
    """One hostile request body and what must become of it."""

    name: str
    content_type: str | None
    body: bytes
    handling: Handling
    content_encoding: str | None = None


def _image(fmt: str, size: tuple[int, int] = (48, 36), **save: object) -> bytes:
    rng = random.Random(fmt)
    image = Image.new("RGB", size)
    image.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def _stored_zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("photo.jpg", data)
    return buffer.getvalue()


def _form(*parts: tuple[bytes, bytes], boundary: str = BOUNDARY) -> bytes:
    """A multipart body of (headers, body) parts."""
    out = b""
    for head, body in parts:
        out += b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def _file(body: bytes, name: str = "photo", filename: str = "a.jpg") -> tuple[bytes, bytes]:
    head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'
    return head.encode(), body


def _field(name: str, value: bytes) -> tuple[bytes, bytes]:
    return f'Content-Disposition: form-data; name="{name}"'.encode(), value


@functools.cache
def gzip_bomb(size: int = 1 << 30) -> bytes:
    """About 1 MB of gzip that decodes to ``size`` zero bytes."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(encoder.compress(zeros) for _ in range(size >> 20)) + encoder.flush()


def hostile_cases(jpeg: bytes) -> list[Hostile]:
    """The corpus, built around ``jpeg`` (a photo with private metadata)."""
    png, gif = _image("PNG"), _image("GIF")
    webp, tiff, bmp = _image("WEBP"), _image("TIFF"), _image("BMP")
    jp2 = _image("JPEG2000")
    jxl = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(random.Random(1).randbytes(400))
    jxl_codestream = b"\xff\x0a" + bytes(random.Random(2).randbytes(400))
    b64 = base64.b64encode(jpeg)
    data_url = b"data:image/jpeg;base64," + b64
    nested_boundary = "inner-7MA4YWxk"
    nested = _form(_file(jpeg), boundary=nested_boundary)
    noise = random.Random(3).randbytes(256 * 1024)
    cases = [
        # What Veil rewrites.
        Hostile("raw JPEG", "image/jpeg", jpeg, "protected"),
        Hostile("raw JPEG labelled text/plain", "text/plain", jpeg, "protected"),
        Hostile("raw JPEG without a Content-Type", None, jpeg, "protected"),
        Hostile("raw PNG", "application/octet-stream", png, "protected"),
        Hostile("raw GIF", "image/gif", gif, "protected"),
        Hostile("raw WebP", "image/webp", webp, "protected"),
        Hostile("multipart JPEG", FORM, _form(_field("caption", b"hi"), _file(jpeg)), "protected"),
        Hostile("multipart JPEG and PNG", FORM, _form(_file(jpeg), _file(png, "b")), "protected"),
        Hostile("multipart base64 field", FORM, _form(_field("img", b64)), "protected"),
        Hostile("multipart data URL field", FORM, _form(_field("img", data_url)), "protected"),
        Hostile("JSON base64", JSON, json.dumps({"i": b64.decode()}).encode(), "protected"),
        Hostile(
            "JSON data URL in a list",
            "application/json",
            json.dumps({"media": [{"src": data_url.decode()}]}).encode(),
            "protected",
        ),
        Hostile(
            "JSON with escaped slashes",
            "application/json",
            json.dumps({"i": b64.decode()}).replace("/", "\\/").encode(),
            "protected",
        ),
        Hostile(
            "form base64",
            "application/x-www-form-urlencoded",
            b"x=1&img=" + urllib.parse.quote_from_bytes(b64).encode(),
            "protected",
        ),
        Hostile(
            "form data URL",
            "application/x-www-form-urlencoded",
            b"img=" + urllib.parse.quote_from_bytes(data_url).encode(),
            "protected",
        ),
        Hostile("raw base64 body", "text/plain", b64, "protected"),
        Hostile("raw data URL body", "text/plain", data_url, "protected"),
        Hostile("wrapped base64 (MIME lines)", "text/plain", base64.encodebytes(jpeg), "protected"),
        Hostile("gzip JPEG", "image/jpeg", gzip.compress(jpeg), "protected", "gzip"),
        Hostile("gzip multipart", FORM, gzip.compress(_form(_file(jpeg))), "protected", "gzip"),
        Hostile(
            "zstd JPEG",
            "image/jpeg",
            zstandard.ZstdCompressor().compress(jpeg),
            "protected",
            "zstd",
        ),
        Hostile("brotli JPEG", "image/jpeg", brotli.compress(jpeg), "protected", "br"),
        Hostile(
            "deflate JSON base64",
            JSON,
            zlib.compress(json.dumps({"i": b64.decode()}).encode()),
            "protected",
            "deflate",
        ),
        Hostile(
            "PDF with a JPEG stream",
            "application/pdf",
            b"%PDF-1.4\n1 0 obj << /Filter /DCTDecode >> stream\n" + jpeg + b"\nendstream\n",
            "blocked",
        ),
        Hostile("ZIP holding a JPEG, stored", "application/zip", _stored_zip(jpeg), "blocked"),
        Hostile(
            "JPEG with data after its end",
            "image/jpeg",
            jpeg + b"PK\x03\x04" + noise[:512],
            "protected",
        ),
        Hostile(
            "multipart with a traversing file name",
            FORM,
            _form(_file(jpeg, filename="../../../etc/passwd.jpg")),
            "protected",
        ),
        Hostile(
            "multipart part in transfer-encoded base64",
            FORM,
            _form(
                (
                    b'Content-Disposition: form-data; name="p"; filename="a.jpg"\r\n'
                    b"Content-Transfer-Encoding: base64",
                    base64.encodebytes(jpeg),
                )
            ),
            "protected",
        ),
        # Formats Veil cannot rewrite: the failure rule.
        Hostile("raw JPEG 2000", "image/jp2", jp2, "blocked"),
        Hostile("raw JPEG XL", "image/jxl", jxl, "blocked"),
        Hostile("raw JPEG XL codestream", "application/octet-stream", jxl_codestream, "blocked"),
        Hostile("raw TIFF", "image/tiff", tiff, "blocked"),
        Hostile("raw BMP", "image/bmp", bmp, "blocked"),
        Hostile("multipart JPEG 2000", FORM, _form(_file(jp2, filename="a.jp2")), "blocked"),
        Hostile("multipart JPEG XL", FORM, _form(_file(jxl, filename="a.jxl")), "blocked"),
        Hostile("gzip bomb: 1 GiB of zeros", "image/jpeg", gzip_bomb(), "blocked", "gzip"),
        Hostile(
            "zstd bomb: 1 GiB of zeros",
            "image/jpeg",
            zstandard.ZstdCompressor().compress(bytes(1 << 30)),
            "blocked",
            "zstd",
        ),
        Hostile("an unknown Content-Encoding", "image/jpeg", jpeg, "blocked", "compress"),
        Hostile("gzip that breaks off", "image/jpeg", gzip.compress(jpeg)[:300], "blocked", "gzip"),
        Hostile(
            "multipart without its closing boundary",
            FORM,
            _form(_file(jpeg)).rsplit(b"--" + BOUNDARY.encode() + b"--", 1)[0],
            "blocked",
        ),
        Hostile("truncated JPEG", "image/jpeg", jpeg[: len(jpeg) // 3], "blocked"),
        Hostile("JPEG header only", "image/jpeg", jpeg[:20], "blocked"),
        Hostile("base64 that breaks off", "text/plain", b64[:40] + b"!!" + b64[42:200], "blocked"),
        # Image data where no image is expected: the failure rule.
        Hostile("part body starting with CRLF", FORM, _form(_file(b"\r\n" + jpeg)), "blocked"),
        Hostile("part body starting with spaces", FORM, _form(_file(b"   " + jpeg)), "blocked"),
        Hostile("part body starting with NULs", FORM, _form(_file(b"\x00" * 8 + jpeg)), "blocked"),
        Hostile(
            "nested multipart/mixed",
            FORM,
            _form(
                (
                    b'Content-Disposition: form-data; name="files"\r\n'
                    + f"Content-Type: multipart/mixed; boundary={nested_boundary}".encode(),
                    nested,
                )
            ),
            "blocked",
        ),
        Hostile(
            "JPEG after a text prefix in a part", FORM, _form(_file(b"IMG:" + jpeg)), "blocked"
        ),
        Hostile("raw body: JPEG after a prefix", BINARY, b"VEIL" + jpeg, "blocked"),
        Hostile("raw body: PNG inside noise", BINARY, noise[:999] + png, "blocked"),
        Hostile("two JPEGs concatenated", "image/jpeg", jpeg + jpeg, "protected"),
        Hostile(
            "JSON part with a data URL",
            FORM,
            _form(
                (
                    b'Content-Disposition: form-data; name="meta"\r\n'
                    b"Content-Type: application/json",
                    json.dumps({"thumb": data_url.decode()}).encode(),
                )
            ),
            "blocked",
        ),
        Hostile(
            "XML with base64",
            "application/xml",
            b"<post><image>" + b64 + b"</image></post>",
            "blocked",
        ),
        Hostile("base64 after a prefix", "text/plain", b"image=" + b64, "blocked"),
        Hostile(
            "data URL inside HTML",
            "text/html",
            b'<p><img src="' + data_url + b'"></p>',
            "blocked",
        ),
        Hostile(
            "percent-encoded JPEG bytes in a query-like body",
            "application/octet-stream",
            b"blob=" + urllib.parse.quote_from_bytes(jpeg[:64]).encode(),
            "blocked",
        ),
        Hostile("GIF in the preamble", FORM, gif + b"\r\n" + _form(_field("a", b"b")), "blocked"),
        Hostile("PNG in the epilogue", FORM, _form(_field("a", b"b")) + png, "blocked"),
        # Not images: sent as they came.
        Hostile("plain JSON", "application/json", b'{"caption": "hello", "n": 3}', "untouched"),
        Hostile("form fields", "application/x-www-form-urlencoded", b"a=1&b=two", "untouched"),
        Hostile("multipart text only", FORM, _form(_field("caption", b"Ol\xc3\xa1")), "untouched"),
        Hostile("random binary, 256 KiB", "application/octet-stream", noise, "untouched"),
        Hostile("empty body", "image/jpeg", b"", "untouched"),
        Hostile("text that mentions JFIF", "text/plain", b"JFIF and Exif are formats", "untouched"),
    ]
    return cases
