"""What crosses the boundary, used by both sides: ``messages`` (framing, deadlines, size caps),
``protocol`` (typed requests and replies, ``CallOutcome``), ``values`` (plain-data encoding and the
strict decoder) and ``replies`` (strict readers for the worker's descriptions)."""
