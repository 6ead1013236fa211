"""Running student code: a worker process, confined, spoken to only in plain data.

The folders say which side of the trust boundary code runs on:

- :mod:`.supervisor`: in the grading process. Starts, restarts, replays and kills the worker
  (``session.Sandbox``), decides what it may see (``spec.IsolationSpec``), claims its uid and cleans
  up after it.
- :mod:`.wire`: both sides. Length-prefixed messages with deadlines and size caps, the typed
  protocol, and the plain-data values with their strict, budgeted decoder.
- :mod:`.runtime`: the worker itself, which runs student code (cells, calls, torch models).
  Nothing in it imports the supervisor.
- :mod:`.jail`: the worker's confinement (namespaces, its own root, limits, privileges, seccomp),
  applied in ``jail.confine.confine`` before any student code runs.
"""
