"""One submission's grading around the tests: the folder's path (``pipeline``), what is said to the
student and the instructor (``notes``, ``messages``, ``cell_report``) and pictures of wrong grids
(``grid``)."""
