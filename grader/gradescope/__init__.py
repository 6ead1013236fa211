"""Gradescope: the ``/autograder`` entry (``entry``), its policies (``late``, ``submission_limit``),
and what is uploaded to it (``packaging``: the autograder zip and the student kit; ``environment``:
an assignment's requirements; ``templates``: setup.sh and run_autograder)."""
