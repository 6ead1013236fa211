"""The grading process's side of the sandbox.

Public surface: ``session.Sandbox`` (a context manager: start, call, close), ``spec.IsolationSpec``
and ``spec.CannotHide``, ``spawn.death_note``; the rest (``cleanup``, ``leftovers``, ``reaper``,
``identity``) serves them.
"""
