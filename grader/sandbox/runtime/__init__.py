"""The worker: runs a student's cells and calls their functions, behind the jail.

Public surface: ``start`` (``python -m grader.sandbox.runtime.start``, a fresh worker) and
``start.serve_confined`` (a forked one); ``worker``, ``cells``, ``imports``, ``ipython_shim`` and
``models`` serve them. Nothing here imports :mod:`grader.sandbox.supervisor`.
"""
