"""The root of every error the grader raises on purpose.

Callers catch :class:`GraderError` to tell "the grader refused this, for a reason it can state" from
its own bugs. Each subclass lives with the code that raises it; none is matched by its message.
"""

from __future__ import annotations


class GraderError(Exception):
    """A problem the grader detected and can explain: bad input, a broken assignment, a refused setup."""
