"""The checking code of a handed-out notebook's self-check cells, embedded verbatim by ``grader build``.

It runs in the student's kernel (Colab or Jupyter) where the grader is not installed: NumPy only,
torch imported only for checks that build a model. The checks themselves are data recorded from
the visible tests at build time (:mod:`grader.authoring.selfcheck`); this code calls the student's function
and words the outcome as the Gradescope feedback of the same visible test does
(``grader.testing.feedback``, ``grader.testing.explain``). ``tests/test_selfcheck.py`` proves
that the two agree for the same wrong function, so a change to one must be made to the other.
"""

import contextlib as _contextlib
import inspect as _inspect
import io as _io
import linecache as _linecache
import traceback as _traceback
import warnings as _warnings

import numpy as _np

_RTOL, _ATOL = 1e-5, 1e-7
# In a notebook this code has no __file__: its frames are told apart from the student's by this name.
_HERE = _inspect.currentframe().f_code.co_filename


def _show(value, limit=400):
    if isinstance(value, _np.ndarray) and (value.ndim >= 3 or value.size > 64):
        with _np.errstate(all="ignore"):
            finite = value[_np.isfinite(value)] if value.dtype.kind == "f" else value
            span = f", values from {finite.min():.4g} to {finite.max():.4g}" if finite.size else ""
        first = ", ".join(f"{v:.4g}" for v in value.ravel()[:4])
        text = f"array of shape {tuple(value.shape)}{span}; first values {first}, ..."
    elif isinstance(value, _np.ndarray):
        text = _np.array2string(value, precision=4, suppress_small=True, threshold=40, edgeitems=3, max_line_width=88)
        if value.ndim >= 1 and value.size > 6:
            text = f"{text}  (shape {tuple(value.shape)})"
    elif isinstance(value, (_np.floating, float)):
        text = f"{float(value):.6g}"
    elif isinstance(value, (list, tuple)):
        inner = ", ".join(_show(v, limit) for v in value)
        text = f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{key!r}: {_show(item, limit)}" for key, item in value.items()) + "}"
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 5] + " ...]"
    return text


def _type_name(obj):
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _as_numbers(value):
    """(kind, float64 array or None, dtype) of an answer, as the grader decodes it."""
    if value is None:
        return "none", None, None
    if type(value) is bool:
        return "bool", _np.array(float(value)), "bool"
    if type(value) in (int, float):
        return "number", _np.array(float(value)), type(value).__name__
    if isinstance(value, _np.generic) and value.dtype.kind in "biuf":
        return "number", _np.array(value, dtype=_np.float64), str(value.dtype)
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    if isinstance(value, _np.ndarray) and value.dtype.kind in "biuf":
        return "array", _np.array(value, dtype=_np.float64), str(value.dtype)
    if type(value) in (list, tuple) and value:
        parts = [_as_numbers(v)[1] for v in value]
        if all(p is not None for p in parts) and len({p.shape for p in parts}) == 1:
            return "sequence", _np.stack(parts).astype(_np.float64), None
    return "other", None, None


def _show_got(value, limit=400):
    text = _show_got_text(value, limit)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


def _show_got_text(value, limit):
    kind, array, dtype = _as_numbers(value)
    if kind == "array":
        return _show(array, limit) + ("" if dtype in ("float64", "float32") else f"  (dtype {dtype})")
    if kind == "number":
        return _show(float(array), limit) + f"  ({_type_name(value)})"
    if kind == "bool":
        return str(bool(value))
    if kind == "none":
        return "None"
    if isinstance(value, str):
        return repr(value)[:400]
    if type(value) in (list, tuple):
        inner = ", ".join(_show_got(v, 80) for v in value[:8]) + (", ..." if len(value) > 8 else "")
        return (f"a tuple: ({inner})" if type(value) is tuple else f"a list: [{inner}]")[:limit]
    if type(value) is dict and all(type(k) is str for k in value):
        pairs = ", ".join(f"{k!r}: {_show_got(v, 80)}" for k, v in list(value.items())[:8])
        return f"a dict: {{{pairs}{', ...' if len(value) > 8 else ''}}}"[:limit]
    return f"an object of type {_type_name(value)}"


def _describe(value):
    kind, array, dtype = _as_numbers(value)
    if kind == "none":
        return "None"
    if kind == "array":
        return f"{_type_name(value)} with shape {tuple(array.shape)} and dtype {dtype}"
    if type(value) in (list, tuple):
        return f"{type(value).__name__} of {len(value)} items"
    return _type_name(value)


def _leading_axes(got, want):
    """As grader.testing.compare.leading_axes."""
    if len(got) == len(want) >= 3 and got[-2:] == want[-2:] and got[:-2] != want[:-2]:
        return (f"The last two axes are right; the leading axes should be {tuple(want[:-2])}, "
                f"yours are {tuple(got[:-2])}.")
    return ""


def _shape_text(shape):
    return "a single number" if shape == () else f"shape {tuple(shape)}"


def _close(got, want, rtol, atol):
    if got.shape != want.shape:
        return False
    with _np.errstate(all="ignore"):
        return bool(_np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))


class _Shown:
    """An argument shown as the grader shows it (a model by its layers, an activation by its name)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _call_text(name, args, kwargs, params):
    lines = []
    named = [(params[i] if i < len(params) else f"argument {i + 1}", arg) for i, arg in enumerate(args)]
    for pname, arg in [*named, *kwargs.items()]:
        prefix = f"  {pname} = "
        lines.append(prefix + _show(arg).replace("\n", "\n" + " " * len(prefix)))
    if not lines:
        return f"Calling {name}()"
    return f"Calling {name} with\n" + "\n".join(lines)


def _mutation_note(names):
    if not names:
        return ""
    return (f"Your function changed its input {', '.join(names)} in place. Functions must not modify their "
            "inputs: compute a new array instead (an expression such as w - lr * dw makes one; x.copy() copies).")


def _decode(node):
    """Arguments and expected values from the embedded data."""
    if isinstance(node, dict):
        if "array" in node:
            return _np.array(node["array"], dtype=node["dtype"]).reshape(node["shape"])
        if "scalar" in node:
            return _np.dtype(node["dtype"]).type(node["scalar"])
        if "builtin" in node:
            return _BUILTINS[node["builtin"]]
        if "numpy" in node:
            return getattr(_np, node["numpy"])
        if "student" in node:
            return _STUDENT[0][node["student"]]
        if "model" in node:
            return _build_model(node["model"])
        if "tuple" in node:
            return tuple(_decode(v) for v in node["tuple"])
        return {k: _decode(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode(v) for v in node]
    return node


def _identity(z):
    return z


def _sigmoid(z):
    z = _np.asarray(z, dtype=float)
    return 0.5 * (1.0 + _np.tanh(0.5 * z))


_identity.__name__, _sigmoid.__name__ = "identity", "sigmoid"
_BUILTINS = {"identity": _identity, "sigmoid": _sigmoid}
_STUDENT = [{}]
_OUTCOMES = {}  # each visible test's label -> whether it passed when its self-check last ran


def _build_model(spec):
    """The test's model, built here from torch.nn layers as the grader builds it in its worker."""
    import torch.nn as nn

    layers, words = [], []
    for item in spec:
        item = list(item)
        options = item.pop() if item and isinstance(item[-1], dict) else {}
        kind, sizes = item[0], item[1:]
        if kind == "Conv2d":
            layer = nn.Conv2d(sizes[0], sizes[1], sizes[2], bias=options.get("bias", True))
        elif kind == "Linear":
            layer = nn.Linear(sizes[0], sizes[1], bias=options.get("bias", True))
        elif kind == "MaxPool2d":
            layer = nn.MaxPool2d(*sizes)
        else:
            layer = getattr(nn, kind)(*sizes)
        if options.get("frozen", False):  # as the worker freezes a test model's layer
            layer.requires_grad_(False)
        layers.append(layer)
        words.append(_model_word(kind, sizes, options))
    model = nn.Sequential(*layers)
    model._selfcheck_text = "nn.Sequential(" + ", ".join(words) + ")"
    return model


def _model_word(kind, sizes, options):
    args = [str(s) for s in sizes] + (["bias=False"] if options.get("bias") is False else [])
    return f"nn.{kind}({', '.join(args)})" + (" frozen" if options.get("frozen") else "")


class _Failed(Exception):
    def __init__(self, message, grid=None, *, kind="wrong", error=None, named=False):
        super().__init__(message)
        self.grid = grid  # a wrong 2-D answer beside the right one, shown as a table where it can be
        self.kind = kind  # as the grader's FailureKind: "wrong", "raised", "unfinished", "not_callable"
        self.error = error  # "Type: message" of the error the call raised, if it raised
        self.named = named  # the message names a likely mistake

    def plus(self, note):
        return _Failed(f"{self}\n{note}", self.grid, kind=self.kind, error=self.error, named=self.named)


class _Call:
    def __init__(self, fn, name, args, kwargs):
        self.fn, self.name, self.args, self.kwargs = fn, name, args, kwargs
        if not callable(fn):  # as the grader says it, and with no note: nothing was called
            raise _Failed(f"{name} is defined in your notebook, but as a {type(fn).__name__}, not as a function.",
                          kind="not_callable")
        try:
            # A model's forward pass takes x, as the grader names it.
            self.params = ["x"] if name.endswith(".forward") else [] if "." in name else [p.name for p in _inspect.signature(fn).parameters.values()
                                                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            self.params = []
        shown = [_Shown(a._selfcheck_text) if hasattr(a, "_selfcheck_text") else a for a in args]
        self.context = _call_text(name, tuple(shown), kwargs, self.params)
        before = [a.copy() if isinstance(a, _np.ndarray) else None for a in args]
        printed = _io.StringIO()
        try:
            with _contextlib.redirect_stdout(printed), _warnings.catch_warnings(record=True) as caught:
                _warnings.simplefilter("always")
                self.value = fn(*args, **kwargs)
            self.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
        except NotImplementedError:
            raise _Failed(f"{name} is not implemented yet: it still raises NotImplementedError.",
                          kind="unfinished") from None
        except Exception as exc:  # the student's error, reported as the grader reports it
            raise _Failed(f"{self.context}\nit raised {_error_text(exc)}", kind="raised",
                          error=f"{type(exc).__name__}: {str(exc)[:1000]}") from None
        self.printed = printed.getvalue()
        self.mutated = [self.params[i] if i < len(self.params) else f"argument {i + 1}"
                        for i, (old, new) in enumerate(zip(before, args))
                        if old is not None and not (old.shape == new.shape and _np.array_equal(old, new, equal_nan=True))]

    def fail(self, headline, *details, grid=None):
        parts = [headline, self.context, *[d for d in details if d]]
        note = _mutation_note(self.mutated)
        if note and not headline.startswith(f"{self.name} modified"):
            parts.append("Also: " + note)
        if self.printed.strip():
            parts.append("Your function printed:\n    " + self.printed.strip()[:600].replace("\n", "\n    "))
        raise _Failed("\n".join(parts), grid, named=any(d.startswith("Likely mistake") for d in details))

    def equal(self, check):
        try:
            self._equal(check)
        except _Failed as failure:
            overflows = [w for w in self.warnings if "overflow" in w]
            if check.get("overflow") and overflows:
                raise failure.plus(check["overflow"].format(warning=overflows[0])) from None
            raise

    def _equal(self, check):
        expected, rtol, atol = _decode(check["expected"]), check["rtol"], check["atol"]
        if _is_structured(expected):
            return self._equal_parts(expected, rtol, atol, check)
        likely = [(text, _np.asarray(_decode(v), dtype=_np.float64)) for text, v in check["likely"]]
        want = _np.asarray(expected, dtype=_np.float64)
        shown_want = _np.asarray(expected) if _np.asarray(expected).dtype.kind in "iub" else want
        kind, got, _ = _as_numbers(self.value)
        if got is None:
            if kind == "none":
                self.fail(f"{self.name} returned None.", "Is a `return` statement missing?")
            self.fail(f"{self.name} returned {_describe(self.value)}, but {_shape_text(want.shape)} was expected.")
        if got.shape != want.shape:
            transposed = got.ndim == 2 and got.T.shape == want.shape and _close(got.T, want, rtol, atol)
            self.fail(f"{self.name} returned {_shape_text(got.shape)}, but {_shape_text(want.shape)} was expected.",
                      f"expected: {_show(shown_want)}", f"got:      {_show_got(self.value)}",
                      "Likely mistake: the result is transposed." if transposed else _named(got, rtol, atol, likely),
                      _leading_axes(got.shape, want.shape) or check.get("hint", ""))
        if _close(got, want, rtol, atol):
            return
        grid = _grid_of(got, want, rtol, atol)
        self.fail(f"{self.name} returned the wrong values.", f"expected: {_show(shown_want)}",
                  f"got:      {_show_got(self.value)}", _first_difference(got, want, rtol, atol),
                  self._likely(got, want, rtol, atol, likely), _grid_text(grid) if grid else "", grid=grid)

    def _equal_parts(self, expected, rtol, atol, check):
        """As grader.testing.feedback's _equal_parts: part by part, naming the first that differs."""
        names = check.get("names") or None
        miss = _first_mismatch(self.value, expected, rtol, atol, names)
        if miss is None:
            return
        label, got_part, want_part, reason = miss
        name, whole = self.name, _container_text(expected, names)
        found = []
        for text, alt in check["likely"]:
            if text.strip() not in found and _first_mismatch(self.value, _decode(alt), rtol, atol, names) is None:
                found.append(text.strip())
        found = found[:3]
        likely_text = ("Likely mistake: " + found[0] + "".join(f"\nOr: {t}" for t in found[1:3])) if found else ""
        shown = [f"expected: {_show(expected)}", f"got:      {_show_got(self.value)}"]
        if reason == "container" and not label:
            if got_part is None:
                self.fail(f"{name} returned None, but {whole} was expected.", "Is a `return` statement missing?")
            joined = ", ".join(names) if names else "the parts"
            self.fail(f"{name} returned {_describe(got_part)}, but {whole} was expected.", *shown,
                      f"Return {joined} together, separated by commas (`return {joined}`)."
                      if isinstance(expected, tuple) and names else "")
        if reason == "length":
            self.fail(f"{name} returned a {type(got_part).__name__} of {len(got_part)} items, but {whole} was expected.",
                      *shown)
        if reason == "missing":
            self.fail(f"{name} returned a dict without {label}.", *shown)
        if reason:
            self.fail(f"In {name}'s answer, {label} is {_describe(got_part)}, not {_container_text(want_part)}.",
                      *shown)
        want = _np.asarray(want_part, dtype=_np.float64)
        got = _as_numbers(got_part)[1]
        if got is None or got.shape != want.shape:
            what = "None" if got_part is None else (_shape_text(got.shape) if got is not None else _describe(got_part))
            self.fail(f"{name} returned a wrong {label}: {what}, but {_shape_text(want.shape)} was expected.", *shown,
                      likely_text, "A one-element array is not a number: use float(...) or .item()."
                      if want.shape == () and got is not None and got.size == 1 else "")
        self.fail(f"{name} returned a wrong {label}.", *shown,
                  f"{label}: expected {_show(want_part)}, got {_show_got(got_part)}",
                  _first_difference(got, want, rtol, atol), likely_text or self._observed(got, want, rtol, atol))

    def _likely(self, got, want, rtol, atol, likely):
        named = _named(got, rtol, atol, likely)
        if named:
            return named
        return self._observed(got, want, rtol, atol)

    def _observed(self, got, want, rtol, atol):
        """As grader.testing.compare.observed: what a wrong answer has in common with the right one."""
        if _np.isfinite(want).all() and not _np.isfinite(got).all():
            return ("Note: the result contains nan or inf where the true values are finite: look for an overflow "
                    "(np.exp of a large number is inf, and inf / inf is nan), a log of 0 or a division by 0.")
        if want.size > 1 and _close(got, -want, rtol, atol) and not _close(got, want, rtol, atol):
            return "Note: every value is the expected one with the opposite sign."
        with _np.errstate(all="ignore"):
            diff = got - want
        scale = atol + rtol * _np.abs(want).max()
        if want.size > 1 and _np.isfinite(diff).all() and _np.ptp(diff) <= scale and abs(diff.flat[0]) > 10 * scale:
            return f"Note: every value is off by the same amount ({diff.flat[0]:+.4g})."
        return ""

    def shape(self, check):
        kind, got, _ = _as_numbers(self.value)
        want = tuple(check["shape"])
        if got is None:
            self.fail(f"{self.name} returned {_describe(self.value)}, but {_shape_text(want)} was expected.")
        if got.shape != want:
            self.fail(f"{self.name} returned {_shape_text(got.shape)}, but {_shape_text(want)} was expected.",
                      check.get("hint", ""))

    def number(self, check):
        kind, array, _ = _as_numbers(self.value)
        if kind not in ("number", "bool") and not (kind == "array" and array.shape == ()):
            advice = (f"It has {array.size} values, where one number was expected." if array is not None and array.size > 1
                      else "Use float(...) or .item() to turn a one-element array into a number.")
            self.fail(f"{self.name} should return a single number, but returned {_describe(self.value)}.", advice)

    def unchanged(self, check):
        if self.mutated:
            self.fail(f"{self.name} modified its input.", _mutation_note(self.mutated))


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def _is_structured(expected):
    if isinstance(expected, (tuple, dict)):
        return True
    if isinstance(expected, list):
        try:
            _np.asarray(expected, dtype=_np.float64)
        except (ValueError, TypeError):
            return True
    return False


def _container_text(expected, names=None):
    if isinstance(expected, dict):
        return "a dict with the keys " + ", ".join(repr(k) for k in expected)
    kind = "tuple" if isinstance(expected, tuple) else "list"
    named = f" ({', '.join(names)})" if names and len(names) == len(expected) else ""
    return f"a {kind} of {len(expected)}{named}"


def _part_label(position, names, outer="", count=0):
    if isinstance(position, str):
        text = f"the key {position!r}"
        return f"{text} of {outer}" if outer else text
    ordinal = _ORDINALS[position] if position < len(_ORDINALS) else f"number {position + 1}"
    if outer:
        return f"the {ordinal} element of {outer}"
    where = f"the {ordinal} of its {count} values"
    return f"{names[position]} ({where})" if names and position < len(names) else where


def _first_mismatch(got, expected, rtol, atol, names=None, depth=0, outer=""):
    """(label, the student's part, the expected part, reason) where the answer first differs, or None."""
    if not _is_structured(expected):
        numbers = _as_numbers(got)[1]
        want = _np.asarray(expected, dtype=_np.float64)
        return None if numbers is not None and _close(numbers, want, rtol, atol) else (outer, got, expected, "")
    if isinstance(expected, dict):
        if not (type(got) is dict and all(type(k) is str for k in got)):
            return (outer, got, expected, "container")
        for key, want in expected.items():
            label = _part_label(str(key), None, outer)
            if key not in got:
                return (label, got, want, "missing")
            found = _first_mismatch(got[key], want, rtol, atol, None, depth + 1, label)
            if found:
                return found
        return None
    if type(got) not in (list, tuple):
        return (outer, got, expected, "container")
    if len(got) != len(expected):
        return (outer, got, expected, "length")
    for position, (part, want) in enumerate(zip(got, expected)):
        found = _first_mismatch(part, want, rtol, atol, None, depth + 1,
                                _part_label(position, names if depth == 0 else None, outer, len(expected)))
        if found:
            return found
    return None


def _affine(own, scale, offset):
    """own * scale + offset, part by part (the recorded form of a test's ``expected_from``)."""
    if isinstance(offset, dict):
        return {k: _affine(own[k], scale[k], offset[k]) for k in offset}
    if _is_structured(offset):
        parts = [_affine(o, s, f) for o, s, f in zip(own, scale, offset)]
        return tuple(parts) if isinstance(offset, tuple) else parts
    return _np.asarray(own, dtype=_np.float64) * _np.asarray(scale, dtype=_np.float64) + _np.asarray(offset, dtype=_np.float64)


def _named(got, rtol, atol, likely):
    found = []
    for message, alt in likely:
        if _close(got, alt, rtol, atol) and message.strip() not in found:
            found.append(message.strip())
    if not found:
        return ""
    return "Likely mistake: " + found[0] + "".join(f"\nOr: {text}" for text in found[1:3])


def _grid_of(got, want, rtol, atol):
    """As grader.grading.grid.grid_of: the first differing 2-D slice of a small wrong answer, or None."""
    if got.shape != want.shape or want.ndim < 2 or want.size <= 4 or max(want.shape[-2:]) > 16:
        return None
    with _np.errstate(all="ignore"):
        wrong = ~_np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if not wrong.any():
        return None
    lead = tuple(int(i) for i in _np.argwhere(wrong)[0][:-2])
    where = f"[{', '.join(map(str, lead))}]" if lead else ""
    return want[lead].tolist(), got[lead].tolist(), wrong[lead].tolist(), where


def _grid_text(grid):
    """As grader.grading.grid.grid_text: expected and got side by side, * marking what differs."""
    expected, got, differ, where = grid
    width = max(len(f"{v:.4g}") for row in expected + got for v in row)
    left = [" ".join(f"{f'{v:.4g}':>{width}}" for v in row) for row in expected]
    right = [" ".join(f"{f'{v:.4g}':>{width}}{'*' if d else ' '}" for v, d in zip(row, marks))
             for row, marks in zip(got, differ)]
    span = max(len(line) for line in left)
    lines = [f"Expected and got{f' of slice {where}' if where else ''}, side by side; * marks a value that differs:",
             f"  {'expected':<{span}}   got"]
    lines += [f"  {a:<{span}}   {b}".rstrip() for a, b in zip(left, right)]
    return "\n".join(lines)


def _show_grid(grid):
    """The grid as a table where the notebook can show one (Jupyter, Colab); the text above stands alone."""
    try:
        from IPython.display import HTML, display
    except ImportError:
        return
    expected, got, differ, where = grid
    cells = "".join(
        "<tr>" + "".join(
            f'<td style="background:#fdd;font-weight:bold" title="expected {w:.4g}">{g:.4g}</td>' if d
            else f"<td>{g:.4g}</td>" for w, g, d in zip(want_row, got_row, marks)) + "</tr>"
        for want_row, got_row, marks in zip(expected, got, differ))
    wanted = "".join("<tr>" + "".join(f"<td>{w:.4g}</td>" for w in row) + "</tr>" for row in expected)
    table = '<table style="display:inline-table;margin-right:2em;border-collapse:collapse">'
    display(HTML(f"<div><div>Expected and got{f' (slice {where})' if where else ''}; differing values in red:</div>"
                 f"{table}<caption>expected</caption>{wanted}</table>{table}<caption>got</caption>{cells}</table></div>"))


def _first_difference(got, want, rtol, atol):
    if want.size <= 6:
        return ""
    with _np.errstate(all="ignore"):
        wrong = ~_np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    index = tuple(int(i) for i in _np.argwhere(wrong)[0])
    return (f"{int(wrong.sum())} of {want.size} values differ; the first at index {index}: "
            f"expected {want[index]:.6g}, got {got[index]:.6g}.")


def _error_text(exc):
    # Continuation lines indented, as the grader does: an exception's message cannot fake a line.
    head = f"{type(exc).__name__}: {str(exc).replace(chr(10), chr(10) + '    ')}".rstrip(": ")
    # The student's frames only: not this cell's, not those of numpy or torch.
    frames = [f for f in _traceback.extract_tb(exc.__traceback__) if f.filename != _HERE
              and "site-packages" not in f.filename and "dist-packages" not in f.filename]
    if frames:
        last = frames[-1]
        first = next((t for t in (_linecache.getline(last.filename, n).strip() for n in range(1, 30)) if t), "")
        # As the grader names a cell: by its first line (IPython keeps each cell's source for this).
        where = f'line {last.lineno} of the cell starting "{first[:60]}"' if first else f"line {last.lineno} of your code"
        if last.name not in (None, "", "<module>"):
            where += f", in {last.name}"
            caller = frames[-2].name if len(frames) > 1 else None
            if caller not in (None, "", "<module>", last.name):
                where += f" (called from {caller})"
        code = f"\n    {last.line}" if last.line else ""
        return f"{head}\n  at {where}{code}"
    return head


def _forward(obj, method):
    """A model's method run as the grader runs it: evaluation mode, no gradients, arrays in and out."""
    import torch

    def run(x):
        obj.eval()
        inputs = torch.as_tensor(_np.asarray(x))
        # As the grader's worker does: a notebook may have made float64 torch's default
        # (torch.set_default_dtype), so the model gets the dtype of its own weights.
        params = obj.parameters() if hasattr(obj, "parameters") else ()
        dtype = next((p.dtype for p in params if p.is_floating_point()), inputs.dtype)
        with torch.no_grad():
            out = getattr(obj, method)(inputs.to(dtype) if inputs.is_floating_point() else inputs)
        return out.detach().cpu().numpy() if hasattr(out, "detach") else out

    return run


def _target(call, namespace):
    """The function a recorded call calls, and the name messages give it."""
    made = call.get("construct")
    if not made:
        return namespace.get(call["function"]), call["function"]
    cls = namespace.get(made["class"])
    if cls is None:
        return None, made["class"]
    try:
        obj = cls(*_decode(made["args"]), **_decode(made["kwargs"]))
    except NotImplementedError:
        raise _Failed(f"{made['class']} is not implemented yet: it still raises NotImplementedError.",
                      kind="unfinished") from None
    except Exception as exc:  # the student's constructor failed: said as the grader says it
        raise _Failed(f"Calling {made['class']} with\n  argument 1 = {_show(_decode(made['args'])[0])}\n"
                      f"it raised {_error_text(exc)}", kind="raised",
                      error=f"{type(exc).__name__}: {str(exc)[:1000]}") from None
    return _forward(obj, made["method"]), call["function"]


def _run_call(fn, call, namespace):
    try:
        done = _Call(fn, call["function"], tuple(_decode(call["args"])), _decode(call["kwargs"]))
        for check in call["checks"]:
            try:
                getattr(done, check["kind"])(check)
            except _Failed:
                # As the grader's to_equal(consistent=...): it excuses a wrong value, no other check.
                if check["kind"] != "equal" or not _consistent(done, call.get("consistent", []), namespace):
                    raise
    except _Failed as failure:
        # As the grader's on_raise and on_failure add them: the first raise note that applies, or the hint.
        for words, note in call.get("raise_notes", []) if failure.error is not None else []:
            if not words or any(word in failure.error for word in words):
                raise failure.plus(note) from None
        if call.get("hint") and not failure.named and failure.kind in ("wrong", "raised"):
            raise failure.plus(call["hint"]) from None
        raise


def _uses(fn):
    """The global names fn's code loads (its nested functions' too), as the grader's worker finds them."""
    import dis as _dis

    code = getattr(fn, "__code__", None)
    found, pending = set(), [code] if code is not None else []
    while pending and len(found) < 500:
        current = pending.pop()
        found.update(ins.argval for ins in _dis.get_instructions(current) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
        pending.extend(c for c in current.co_consts if hasattr(c, "co_code"))
    return found


def _consistent(done, helpers, namespace):
    """Right given the student's own helper, when that helper is wrong on its own: its tests take the points."""
    if not hasattr(done, "value"):
        return False
    used = _uses(done.fn)
    for name, args, want, offset, *scale in helpers:
        if name not in used:
            continue
        helper = namespace.get(name)
        try:
            own = helper(*_decode(args))
            want = _decode(want)
            if own is None or _first_mismatch(own, want, _RTOL, _ATOL) is None:
                continue
            own = own if _is_structured(want) else _as_numbers(own)[1]
            expected = _affine(own, _decode(scale[0]) if scale else 1.0, _decode(offset))
        except Exception:  # a helper that fails on its own, or answers in another form, is no reason to pass
            continue
        if _first_mismatch(done.value, expected, _RTOL, _ATOL) is None:
            return True
    return False


def selfcheck(function, namespace):
    """Run the visible tests of ``function`` on the notebook's own definitions; print each outcome."""
    _STUDENT[0] = namespace
    failed = 0
    for test in _TESTS:
        if test["function"] != function:
            continue
        try:
            for call in test["calls"]:
                fn, name = _target(call, namespace)
                if fn is None:
                    raise _Failed(f"{name} is not defined yet: run the cell that defines it.")
                _run_call(fn, call, namespace)
        except _Failed as failure:
            failed += 1
            _OUTCOMES[test["label"]] = False
            print(f"✗ {test['label']}  (0/{test['points']:g})")
            print("    " + str(failure).replace("\n", "\n    "))
            if failure.grid:
                _show_grid(failure.grid)
        else:
            _OUTCOMES[test["label"]] = True
            print(f"✓ {test['label']}  ({test['points']:g}/{test['points']:g})")
    hidden = _HIDDEN.get(function)
    if hidden:
        print(_hidden_sentence(*hidden, function))
    # Printed, not raised: "Run all" must go on to the other functions' checks.
    if failed:
        print(f"{failed} self-check{'s' if failed != 1 else ''} of {function} failed: see above.")


def _hidden_sentence(count, points, function=""):
    """As grader.grading.messages.hidden_sentence: the same words as on Gradescope."""
    of = f" of {function}" if function else ""
    return (f"{count} hidden test{'s' if count != 1 else ''}{of} worth {points:g} point{'s' if points != 1 else ''} "
            "will be shown when grades are published.")


def summary():
    """What the self-checks found: the visible tests passed, failed and not run yet, and the hidden ones."""
    points = sum(t["points"] for t in _TESTS)
    passed = [t for t in _TESTS if _OUTCOMES.get(t["label"]) is True]
    failed = [t["number"] or t["name"] for t in _TESTS if _OUTCOMES.get(t["label"]) is False]
    not_run = [t["number"] or t["name"] for t in _TESTS if t["label"] not in _OUTCOMES]
    print(f"Visible tests: {len(passed)} of {len(_TESTS)} passed "
          f"({sum(t['points'] for t in passed):g} of {points:g} points).")
    if failed:
        print("Failed: " + ", ".join(failed) + " (see the self-check under each function).")
    if not_run:
        print("Not run yet: " + ", ".join(not_run) + " (run the notebook from the top).")
    count = sum(v[0] for v in _HIDDEN.values())
    hidden = sum(v[1] for v in _HIDDEN.values())
    print(_hidden_sentence(count, hidden))
