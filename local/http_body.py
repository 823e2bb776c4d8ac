"""Where a request's body ends (RFC 9112 §6): its Content-Length, or its chunks. Shared by the local servers.

A body whose framing cannot be read (a Content-Length or chunk size that is not a number) is `UnreadableBody`:
a server cannot tell where the next request starts, so it answers 400 and closes the connection, as API
Gateway's front end does, instead of failing in its handler and dropping the connection with no answer.
"""

from __future__ import annotations

import re
from email.message import Message
from io import BufferedIOBase

_DIGITS = re.compile(r"[0-9]+")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")


class UnreadableBody(ValueError):
    """The request's framing says nothing a server can act on."""


def read_body(headers: Message, rfile: BufferedIOBase) -> bytes:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(rfile)
    declared = (headers.get("Content-Length") or "0").strip()
    if not _DIGITS.fullmatch(declared):  # 1*DIGIT; int() would also take "+5", "5_0" and "-1"
        raise UnreadableBody(f"Content-Length {declared[:20]!r} is not a number")
    length = int(declared)
    return rfile.read(length) if length > 0 else b""


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_field = rfile.readline().split(b";")[0].strip() or b"0"
        if not _HEX_DIGITS.fullmatch(size_field):
            raise UnreadableBody(f"chunk size {size_field[:20]!r} is not a hexadecimal number")
        size = int(size_field, 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(rfile.read(size))
        rfile.readline()
