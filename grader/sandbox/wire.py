"""Length-prefixed messages between the grading process and the worker.

A message is a JSON header followed by binary blobs (``.npy`` arrays). JSON and ``.npy`` without
pickle are the only formats that cross the boundary, so nothing the worker sends can execute code
in the grading process. Reads are bounded in time and size: a worker that stalls, floods or lies
about lengths produces an exception here, never a hang or an unbounded allocation.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

_HEADER = struct.Struct("!II")  # JSON length, number of blobs
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
    parts = [_HEADER.pack(len(data), len(blobs)), data]
    for blob in blobs:
        parts.append(_BLOB.pack(len(blob)))
        parts.append(blob)
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
            chunk = sock.recv(min(n - len(chunks), 1 << 20))
        except (ConnectionError, OSError) as exc:
            raise PeerClosed(str(exc)) from None
        if not chunk:
            raise PeerClosed("the other side closed the connection")
        chunks += chunk
    return bytes(chunks)


def recv_message(
    sock: socket.socket, *, deadline: float | None = None, max_bytes: int = 64 * 1024 * 1024
) -> tuple[dict, list[bytes]]:
    json_len, n_blobs = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if json_len > MAX_JSON_BYTES or n_blobs > 10_000:
        raise PeerTooLarge(f"a message header of {json_len} bytes and {n_blobs} arrays")
    try:
        header = json.loads(_recv_exact(sock, json_len, deadline))
    except ValueError as exc:
        raise WireError(f"unreadable message: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("a message that is not a JSON object")
    total = json_len
    blobs = []
    for _ in range(n_blobs):
        (size,) = _BLOB.unpack(_recv_exact(sock, _BLOB.size, deadline))
        total += size
        if total > max_bytes:
            raise PeerTooLarge(f"more than {max_bytes // (1024 * 1024)} MiB of data")
        blobs.append(_recv_exact(sock, size, deadline))
    return header, blobs
