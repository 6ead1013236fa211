"""Length-prefixed messages between the grading process and the worker.

A message is a JSON header followed by binary blobs (array data, described in the header). JSON
and raw numbers are the only formats that cross the boundary, so nothing the worker sends can
execute code in the grading process. Sends and reads are bounded in time and size: a worker that
stalls, stops reading, floods or lies about lengths produces an exception here, never a hang or an
unbounded allocation.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import GraderError

_HEADER = struct.Struct("!QII")  # payload length, JSON length, number of blobs
_BLOB = struct.Struct("!Q")
MAX_JSON_BYTES = 4 * 1024 * 1024
# Integers in a header are counts, shapes and ids; a 4,000-digit one only costs the reader time.
MAX_INT_DIGITS = 20
# A message as it arrives: a JSON object whose every field the reader still has to check.
Message = dict[str, Any]


class WireError(GraderError):
    """The peer broke the protocol: closed, stalled past the deadline, or sent too much."""


class PeerClosed(WireError):
    pass


class PeerTimedOut(WireError):
    pass


class PeerTooLarge(WireError):
    pass


class PeerGarbled(WireError):
    """A whole message arrived but is not one the reader accepts; the stream is still in step."""


def _wait(sock: socket.socket, deadline: float | None, *, write: bool) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining > 0:
        if write:
            _, ready, _ = select.select([], [sock], [], remaining)
        else:
            ready, _, _ = select.select([sock], [], [], remaining)
        if ready:
            return
    raise PeerTimedOut("the other side did not " + ("take the message" if write else "answer") + " in time")


def send_message(
    sock: socket.socket,
    header: Mapping[str, object],
    blobs: Sequence[bytes] = (),
    *,
    deadline: float | None = None,
) -> None:
    """Send one message; with a deadline, a peer that stops reading raises PeerTimedOut.

    A peer that does not read would otherwise block the sender forever once the socket's buffer
    is full: the deadline must hold for sending as much as for receiving.
    """
    data = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    parts = [b"", data]
    for blob in blobs:
        parts.append(_BLOB.pack(len(blob)))
        parts.append(blob)
    payload = sum(len(p) for p in parts)
    parts[0] = _HEADER.pack(payload, len(data), len(blobs))
    message = memoryview(b"".join(parts))
    if deadline is None:
        sock.sendall(message)
        return
    sent = 0
    while sent < len(message):
        _wait(sock, deadline, write=True)
        try:
            sent += sock.send(message[sent : sent + (1 << 20)], socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as exc:
            raise PeerClosed(str(exc)) from None


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> memoryview:
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        _wait(sock, deadline, write=False)
        try:
            count = sock.recv_into(view[got:], min(n - got, 1 << 22))
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionError, OSError) as exc:
            raise PeerClosed(str(exc)) from None
        if not count:
            raise PeerClosed("the other side closed the connection")
        got += count
    return view


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("an integer with too many digits")
    return int(text)


def recv_message(
    sock: socket.socket, *, deadline: float | None = None, max_bytes: int = 64 * 1024 * 1024
) -> tuple[Message, list[memoryview]]:
    """One message: its header and its blobs (read-only views into one buffer, not copies)."""
    # The whole payload's length comes first, so a message arrives in two reads however many
    # arrays it carries, and an oversized one is refused before anything is allocated.
    payload_len, json_len, n_blobs = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if json_len > MAX_JSON_BYTES or n_blobs > 10_000 or json_len > payload_len:
        raise PeerTooLarge(f"a message header of {json_len} bytes and {n_blobs} arrays")
    if payload_len > max_bytes:
        raise PeerTooLarge(f"more than {max_bytes // (1024 * 1024)} MiB of data")
    payload = _recv_exact(sock, payload_len, deadline).toreadonly()
    try:
        header = json.loads(bytes(payload[:json_len]), parse_int=_bounded_int)
    except (ValueError, RecursionError) as exc:
        raise PeerGarbled(f"unreadable message: {exc}") from None
    if not isinstance(header, dict):
        raise PeerGarbled("a message that is not a JSON object")
    blobs: list[memoryview] = []
    offset = json_len
    for _ in range(n_blobs):
        if offset + _BLOB.size > payload_len:
            raise PeerGarbled("a message shorter than it says")
        (size,) = _BLOB.unpack(payload[offset : offset + _BLOB.size])
        offset += _BLOB.size
        if offset + size > payload_len:
            raise PeerGarbled("a message shorter than it says")
        blobs.append(payload[offset : offset + size])
        offset += size
    return header, blobs
