"""Notebook intake: read a submission and turn it into the code the worker runs."""

from .intake import CodeCell, Notebook, NotebookError, prepare, read_notebook

__all__ = ["CodeCell", "Notebook", "NotebookError", "prepare", "read_notebook"]
