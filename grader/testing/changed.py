"""Whether a call changed its arguments in place, decided in the grading process.

The grading process keeps what it sent (arrays, and the lists, tuples and dicts that hold them) and
compares it, value by value, with what the worker sends back as the arguments after the call. No
check of the worker's is taken on trust: a notebook that patches the worker changes what it sends,
never how it is judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..sandbox.wire.values import Value

MAX_DEPTH = 6


def _same(sent: Any, now: Value, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(sent, np.ndarray):
        if sent.dtype.kind not in "biuf":
            return True  # never sent as numbers: nothing to compare
        got = now.array
        # A torch model gets arrays as float32 tensors and gives those back: compared as float32.
        want = sent.astype(np.float32) if now.dtype == "float32" else sent
        return (
            got is not None
            and now.kind == "array"
            and got.shape == sent.shape
            and bool(np.array_equal(got, want.astype(np.float64), equal_nan=True))
        )
    if isinstance(sent, (list, tuple)):
        return (
            now.kind == "sequence"
            and len(now.items) == len(sent)
            and all(_same(a, b, depth + 1) for a, b in zip(sent, now.items))
        )
    if isinstance(sent, dict):
        return (
            now.kind == "mapping"
            and list(now.keys) == [str(k) for k in sent]
            and all(_same(sent[k], v, depth + 1) for k, v in zip(sent, now.items))
        )
    return True  # a number, a function, a model: it cannot be changed in place, or not compared


def _changeable(value: Any) -> bool:
    return isinstance(value, (np.ndarray, list, dict)) or (
        isinstance(value, tuple) and any(_changeable(item) for item in value)
    )


def _name(position: int, params: Sequence[str]) -> str:
    return params[position] if position < len(params) else f"argument {position + 1}"


def changed_arguments(
    args: Sequence[Any], kwargs: Mapping[str, Any], after: Value | None, params: Sequence[str]
) -> list[str]:
    """The arguments a call changed, by the student's parameter names.

    Without a readable ``after``, or with one not shaped like the arguments sent, every argument
    that could change counts as changed: unchanged arguments always fit in what the worker may send
    back, so only arguments that grew, or a worker that withholds or garbles them, leave it out."""
    everything = [_name(position, params) for position, sent in enumerate(args) if _changeable(sent)] + [
        key for key, sent in kwargs.items() if _changeable(sent)
    ]
    if after is None or after.kind != "sequence" or len(after.items) != 2:
        return everything
    now_args, now_kwargs = after.items
    if now_args.kind != "sequence" or len(now_args.items) != len(args) or now_kwargs.kind != "mapping":
        return everything
    found = [
        _name(position, params)
        for position, (sent, now) in enumerate(zip(args, now_args.items))
        if _changeable(sent) and not _same(sent, now)
    ]
    given = dict(zip(now_kwargs.keys, now_kwargs.items))
    found += [
        key
        for key, sent in kwargs.items()
        if _changeable(sent) and (key not in given or not _same(sent, given[key]))
    ]
    return found
