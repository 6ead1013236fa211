"""Answers made of parts: tuples, lists and dicts of numbers and arrays, such as ``(dw, db)``.

An expected value is *structured* when it is a tuple or a dict, or a list whose items are not one
array (``[w, b]`` with ``w`` an array and ``b`` a number). A structured answer is compared part by
part, each part as a single answer is (shape first, then values within the tolerance), and a
failure names the part: by the test's ``names`` ("db, the second element") or by its position.
A list where a tuple is expected is accepted (and the other way round): the contract's order of
the parts is what counts, not the container.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sandbox.wire.values import Value

# Deeper structures are refused by the test API: an answer's parts are what a contract names.
MAX_DEPTH = 4
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def is_structured(expected: Any) -> bool:
    if isinstance(expected, (tuple, dict)):
        return True
    if isinstance(expected, list):
        try:
            np.asarray(expected, dtype=np.float64)
        except (ValueError, TypeError):
            return True
    return False


def container_text(expected: Any, names: Sequence[str] | None = None) -> str:
    """``a tuple of 2 (dw, db)``: what the test expects, in words."""
    if isinstance(expected, dict):
        return "a dict with the keys " + ", ".join(repr(k) for k in expected)
    kind = "tuple" if isinstance(expected, tuple) else "list"
    named = f" ({', '.join(names)})" if names and len(names) == len(expected) else ""
    return f"a {kind} of {len(expected)}{named}"


def part_label(position: int | str, names: Sequence[str] | None, outer: str = "", count: int = 0) -> str:
    """How a message names one part: ``db (the second of its 2 values)`` or ``the key 'loss'``."""
    if isinstance(position, str):
        text = f"the key {position!r}"
        return f"{text} of {outer}" if outer else text
    ordinal = _ORDINALS[position] if position < len(_ORDINALS) else f"number {position + 1}"
    if outer:
        return f"the {ordinal} element of {outer}"
    where = f"the {ordinal} of its {count} values"
    return f"{names[position]} ({where})" if names and position < len(names) else where


@dataclass(frozen=True)
class Mismatch:
    """Where a structured answer first differs from the expected one."""

    label: str  # the part, in words ("" for the whole answer)
    got: Value
    expected: Any  # the expected part: a leaf (number or array) unless ``reason`` says otherwise
    reason: str = ""  # set when the containers differ, not a leaf's values


def first_mismatch(
    got: Value,
    expected: Any,
    leaf_ok: Any,
    names: Sequence[str] | None = None,
    depth: int = 0,
    outer: str = "",
) -> Mismatch | None:
    """The first part of ``got`` that differs from ``expected``; ``leaf_ok(value, want)`` decides leaves."""
    if depth > MAX_DEPTH:
        raise ValueError(f"an expected value nested deeper than {MAX_DEPTH} levels")
    if not is_structured(expected):
        return None if leaf_ok(got, expected) else Mismatch(outer, got, expected)
    if isinstance(expected, dict):
        if got.kind != "mapping":
            return Mismatch(outer, got, expected, "container")
        given = dict(zip(got.keys, got.items))
        for key, want in expected.items():
            label = part_label(str(key), None, outer)
            if str(key) not in given:
                return Mismatch(label, got, want, "missing")
            found = first_mismatch(given[str(key)], want, leaf_ok, None, depth + 1, label)
            if found:
                return found
        return None
    if got.kind != "sequence":
        return Mismatch(outer, got, expected, "container")
    if len(got.items) != len(expected):
        return Mismatch(outer, got, expected, "length")
    for position, (part, want) in enumerate(zip(got.items, expected)):
        label = part_label(position, names if depth == 0 else None, outer, len(expected))
        found = first_mismatch(part, want, leaf_ok, None, depth + 1, label)
        if found:
            return found
    return None


def as_data(value: Value) -> Any:
    """A decoded answer as plain data the test can compute with: float64 arrays (0-d for numbers),
    tuples, lists and dicts of them, str, None; an object left in the worker is its type's name."""
    if value.array is not None:
        return value.array
    if value.kind == "sequence":
        items = [as_data(item) for item in value.items]
        return items if value.type_name == "list" else tuple(items)
    if value.kind == "mapping":
        return {key: as_data(item) for key, item in zip(value.keys, value.items)}
    if value.kind == "text":
        return value.text
    if value.kind == "none":
        return None
    return value.type_name


def map_leaves(function: Any, expected: Any) -> Any:
    """``expected`` with every leaf replaced by ``function(leaf)``, keeping its containers."""
    if isinstance(expected, dict):
        return {key: map_leaves(function, item) for key, item in expected.items()}
    if is_structured(expected):
        items = [map_leaves(function, item) for item in expected]
        return tuple(items) if isinstance(expected, tuple) else items
    return function(expected)


def leaves(expected: Any) -> list[Any]:
    if isinstance(expected, Mapping):
        return [leaf for item in expected.values() for leaf in leaves(item)]
    if is_structured(expected):
        return [leaf for item in expected for leaf in leaves(item)]
    return [expected]
