"""Strict readers for the plain data the worker sends in answer to questions that are not calls:
the names a notebook defines, its functions' parameters, a model's parameters, a new handle.

The worker may be hostile, so each reader checks every field's type and bounds every size, and
raises :class:`ReplyError` for anything else: a test then fails with "could not be read back",
never with an error the grader would blame on the test itself.
"""

from __future__ import annotations

from typing import Any

from ...errors import GraderError
from .values import MAX_AXES


class ReplyError(GraderError):
    """The worker's answer is not the plain data that was asked for."""


MAX_ENTRIES = 10_000
MAX_AXIS = 2**31


def _name(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ReplyError("a name that is not text")
    return value[:limit]


def signatures(data: Any) -> dict[str, list[str]]:
    """``{function: [parameter, ...]}``; functions whose entry is malformed are left out."""
    if not isinstance(data, dict):
        return {}
    found = {}
    for key, params in list(data.items())[:2000]:
        if isinstance(params, list) and all(isinstance(p, str) for p in params[:20]):
            found[key[:100]] = [p[:40] for p in params[:20]]
    return found


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_AXES:
        raise ReplyError("a parameter shape that is not a list of at most 8 sizes")
    if not all(type(n) is int and 0 <= n < MAX_AXIS for n in value):
        raise ReplyError("a parameter shape with a size that is not a whole number from 0 to 2**31")
    return tuple(value)


def parameters(data: Any) -> list[tuple[str, tuple[int, ...], bool]]:
    """``[(name, shape, trainable), ...]`` of a model's ``named_parameters()``."""
    if not isinstance(data, list) or len(data) > MAX_ENTRIES:
        raise ReplyError("a parameter list that is not a list of at most 10,000 entries")
    found = []
    for entry in data:
        if not isinstance(entry, list) or len(entry) != 3 or type(entry[2]) is not bool:
            raise ReplyError("a parameter entry that is not [name, shape, trainable]")
        found.append((_name(entry[0], 200), _shape(entry[1]), entry[2]))
    return found


def layers(
    data: Any, names: list[str]
) -> dict[str, tuple[str, list[tuple[str, tuple[int, ...], bool]]] | None]:
    """``{name: (type, parameters) or None}`` for the attributes ``names`` of a model, each read as
    strictly as :func:`parameters` (a size of Infinity, a float or a string is refused)."""
    if not isinstance(data, dict):
        raise ReplyError("a description of the layers that is not a table")
    found: dict[str, tuple[str, list[tuple[str, tuple[int, ...], bool]]] | None] = {}
    for name in names:
        entry = data.get(name)
        if entry is None:
            found[name] = None
            continue
        if not isinstance(entry, dict):
            raise ReplyError(f"a description of {name} that is not a table")
        found[name] = (_name(entry.get("type"), 100), parameters(entry.get("params")))
    return found


def handle(data: Any) -> int:
    if type(data) is not int or not 0 < data < MAX_AXIS:
        raise ReplyError("a handle that is not a positive whole number")
    return data


def bound_names(data: Any) -> list[str]:
    """The names a cell binds, as the worker read them from its source; unreadable means unknown."""
    if not isinstance(data, list):
        return []
    return [name[:100] for name in data[:40] if isinstance(name, str)]
