"""Words for students: how a call went wrong, what it was given, what came back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..sandbox.supervisor.session import CallOutcome
from ..sandbox.wire.values import Value
from ..text import one_line, quoted


def show(value: Any, limit: int = 400) -> str:
    """A short, rounded rendering of a test's input or an expected value."""
    if isinstance(value, Value):
        return show_value(value, limit)
    if isinstance(value, np.ndarray) and (value.ndim >= 3 or value.size > 64):
        # Large or many-axis arrays print as walls of brackets; their shape and range say more.
        with np.errstate(all="ignore"):
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            span = f", values from {finite.min():.4g} to {finite.max():.4g}" if finite.size else ""
        first = ", ".join(f"{v:.4g}" for v in value.ravel()[:4])
        text = f"array of shape {tuple(value.shape)}{span}; first values {first}, ..."
    elif isinstance(value, np.ndarray):
        text = np.array2string(
            value, precision=4, suppress_small=True, threshold=40, edgeitems=3, max_line_width=88
        )
        if value.ndim >= 1 and value.size > 6:
            text = f"{text}  (shape {tuple(value.shape)})"
    elif isinstance(value, (np.floating, float)):
        text = f"{float(value):.6g}"
    elif isinstance(value, (list, tuple)):
        inner = ", ".join(show(v, limit) for v in value)
        text = f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{key!r}: {show(item, limit)}" for key, item in value.items()) + "}"
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 5] + " ...]"
    return text


def show_value(value: Value, limit: int = 400) -> str:
    if value.kind == "array":
        return show(value.array, limit) + (
            "" if value.dtype in ("float64", "float32") else f"  (dtype {value.dtype})"
        )
    if value.kind == "number" and value.array is not None:
        return show(float(value.array), limit) + f"  ({value.type_name})"
    if value.kind == "bool":
        return str(bool(value.array))
    if value.kind == "none":
        return "None"
    if value.kind == "text":
        return repr(value.text)[:limit]
    if value.kind == "sequence":
        inner = ", ".join(show_value(v, 80) for v in value.items[:8]) + (
            ", ..." if len(value.items) > 8 else ""
        )
        return (f"a tuple: ({inner})" if value.type_name == "tuple" else f"a {value.type_name}: [{inner}]")[
            :limit
        ]
    if value.kind == "mapping":
        pairs = ", ".join(f"{key!r}: {show_value(v, 80)}" for key, v in zip(value.keys[:8], value.items[:8]))
        return f"a dict: {{{pairs}{', ...' if len(value.items) > 8 else ''}}}"[:limit]
    return f"an object of type {value.type_name}"


def call_text(label: str, args: Sequence[Any], kwargs: Mapping[str, Any], params: Sequence[str]) -> str:
    """The inputs of a call, one per line, named after the student's own parameters when known."""
    lines = []
    named = [(params[i] if i < len(params) else f"argument {i + 1}", arg) for i, arg in enumerate(args)]
    for name, arg in [*named, *kwargs.items()]:
        prefix = f"  {name} = "
        # Continuation lines of a multi-row array line up under its first row.
        lines.append(prefix + show(arg).replace("\n", "\n" + " " * len(prefix)))
    if not lines:
        return f"Calling {label}()"
    return f"Calling {label} with\n" + "\n".join(lines)


def error_text(error: Mapping[str, Any] | None) -> str:
    if not error:
        return "an error"
    head = f"{one_line(str(error.get('type', 'Error')))}: {quoted(str(error.get('message', '')))}".rstrip(
        ": "
    )
    frames = error.get("frames") or []
    if frames:
        last = frames[-1]
        where = f"line {last.get('line')} of {_cell_phrase(last)}"
        if last.get("function") not in (None, "", "<module>"):
            where += f", in {last['function']}"
            caller = frames[-2].get("function") if len(frames) > 1 else None
            if caller not in (None, "", "<module>", last["function"]):
                where += f" (called from {caller})"  # the function the test called may be another
        code = f"\n    {last['code']}" if last.get("code") else ""
        return f"{head}\n  at {where}{code}"
    return head


def _cell_phrase(frame: Mapping[str, Any]) -> str:
    """The cell as the student finds it in Jupyter or Colab: by its first line (the notebook's
    self-checks name it the same way); by its number only when its first line is unknown."""
    if frame.get("first"):
        return f'the cell starting "{frame["first"]}"'
    cell = frame.get("cell")
    return f"code cell {cell}" if cell not in (None, "") else "a cell"


def unfinished_function(name: str, error: Mapping[str, Any]) -> str:
    """The function whose NotImplementedError ``error`` is: ``name`` itself, or a helper it calls."""
    frames = error.get("frames") or []
    culprit = frames[-1].get("function") if frames else None
    return str(culprit) if culprit and culprit not in (name, "<module>") else name


def call_failure(
    label: str, args: Sequence[Any], kwargs: Mapping[str, Any], outcome: CallOutcome, params: Sequence[str]
) -> str:
    """Why a call produced no value, and what the student can do about it."""
    status = outcome.status
    name = label.split("(")[0]
    if status == "missing":
        return (
            f"{name} is not defined in your notebook. Check the spelling of its name and that the "
            "cell defining it runs without errors."
        )
    if status == "not_callable":
        return (
            f"{name} is defined in your notebook, but as a {outcome.message or 'value'}, not as a function."
        )
    context = call_text(label, args, kwargs, params)
    if status == "raised":
        error: Mapping[str, object] = outcome.error or {}
        if error.get("type") == "NotImplementedError":
            culprit = unfinished_function(name, error)
            if culprit != name:
                return (
                    f"{name} calls {culprit}, which is not implemented yet "
                    "(it still raises NotImplementedError)."
                )
            return f"{name} is not implemented yet: it still raises NotImplementedError."
        if error.get("type") in ("SystemExit", "KeyboardInterrupt"):
            return f"{context}\nit called exit() or raised {error['type']}; a function must return its result instead."
        return f"{context}\nit raised {error_text(error)}"
    if status == "stopped":
        return f"{name} was not called: {outcome.message}."
    if status == "timeout":
        if outcome.message:
            return f"{name} was not called again: it already ran out of time twice."
        return f"{context}\nit did not finish in time. Look for a loop that never ends or work far larger than needed."
    if status == "crashed":
        died: Mapping[str, object] = outcome.error or {}
        note = died.get("message", "the process running your code stopped")
        return f"{context}\nit stopped the process running your code: {note}."
    if status == "unsendable":
        return f"{context}\nit returned something the grader cannot examine ({outcome.message}). Return numbers or NumPy arrays."
    return f"{context}\nthe grader could not use the answer ({outcome.message})."


def mutation_note(mutated: Sequence[str]) -> str:
    if not mutated:
        return ""
    names = ", ".join(mutated)
    return (
        f"Your function changed its input {names} in place. Functions must not modify their "
        "inputs: compute a new array instead (an expression such as w - lr * dw makes one; x.copy() copies)."
    )


def warning_advice(warnings: Sequence[str]) -> str:
    """What NumPy's warning during the call points at; a cause is named only when the warning says it."""
    text = " ".join(warnings[:3]).lower()
    if "overflow" in text:
        return (
            "An overflow: np.exp (or a power) of a large number is inf. Use a numerically stable form "
            "that never exponentiates a large positive number."
        )
    if "divide by zero" in text and "log" in text:
        return "np.log(0) is -inf: keep the argument of the log away from 0 (clip it into [eps, 1 - eps])."
    if "divide by zero" in text:
        return "A division by 0: check what the divisor can be for these inputs."
    if "invalid value" in text:
        return "An invalid operation (0 / 0, inf − inf, 0 · inf or a log of a negative number) gave nan."
    return "Look for an overflow (np.exp of a large number), a log of 0 or a division by 0."
