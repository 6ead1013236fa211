"""Length-prefixed messages between the grading process and the worker.

A message is a JSON header followed by binary blobs (array data, described in the header). JSON
and raw numbers are the only formats that cross the boundary, so nothing the worker sends can
execute code in the grading process. Reads are bounded in time and size: a worker that stalls, floods or lies
about lengths produces an exception here, never a hang or an unbounded allocation.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

_HEADER = struct.Struct("!QII")  # payload length, JSON length, number of blobs
_BLOB = struct.Struct("!Q")
MAX_JSON_BYTES = 4 * 1024 * 1024


class WireError(Exception):
    """The peer broke the protocol: closed, stalled past the deadline, or sent too much."""


class PeerClosed(WireError):
    pass


class PeerTimedOut(WireError):
    pass


class PeerTooLarge(WireError):
    pass


def send_message(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    data = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    parts = [b"", data]
    for blob in blobs:
        parts.append(_BLOB.pack(len(blob)))
        parts.append(blob)
    payload = sum(len(p) for p in parts)
    parts[0] = _HEADER.pack(payload, len(data), len(blobs))
    sock.sendall(b"".join(parts))


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimedOut("no answer before the deadline")
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                raise PeerTimedOut("no answer before the deadline")
        try:
            chunk = sock.recv(min(n - len(chunks), 1 << 22))
        except (ConnectionError, OSError) as exc:
            raise PeerClosed(str(exc)) from None
        if not chunk:
            raise PeerClosed("the other side closed the connection")
        chunks += chunk
    return bytes(chunks)


def recv_message(
    sock: socket.socket, *, deadline: float | None = None, max_bytes: int = 64 * 1024 * 1024
) -> tuple[dict, list[bytes]]:
    # The whole payload's length comes first, so a message arrives in two reads however many
    # arrays it carries, and an oversized one is refused before anything is allocated.
    payload_len, json_len, n_blobs = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if json_len > MAX_JSON_BYTES or n_blobs > 10_000 or json_len > payload_len:
        raise PeerTooLarge(f"a message header of {json_len} bytes and {n_blobs} arrays")
    if payload_len > max_bytes:
        raise PeerTooLarge(f"more than {max_bytes // (1024 * 1024)} MiB of data")
    payload = memoryview(_recv_exact(sock, payload_len, deadline))
    try:
        header = json.loads(bytes(payload[:json_len]))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable message: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("a message that is not a JSON object")
    blobs, offset = [], json_len
    for _ in range(n_blobs):
        if offset + _BLOB.size > payload_len:
            raise WireError("a message shorter than it says")
        (size,) = _BLOB.unpack(payload[offset:offset + _BLOB.size])
        offset += _BLOB.size
        if offset + size > payload_len:
            raise WireError("a message shorter than it says")
        blobs.append(bytes(payload[offset:offset + size]))
        offset += size
    return header, blobs
