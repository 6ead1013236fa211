"""How a notebook's imports behave in the worker: as they did in the student's Colab or Jupyter.

Three rules, each because a notebook that ran for the student must not fail here for a reason
that has nothing to do with the functions being graded:

* A top-level ``import X`` that fails does not stop the rest of its cell: the cell goes on, and
  the module is reported once, so only code that really uses ``X`` pays for it.
* Modules that exist only in a notebook front-end (``google.colab``, ``ipywidgets``) import as
  inert stand-ins: ``drive.mount(...)`` and widgets do nothing.
* The usual aliases (``np``, ``torch``, ``nn``, ``F``) resolve even when the cell importing them
  was deleted after it ran (the student's kernel still had them); torch is imported only when
  such a name is first used, so notebooks that never touch it never pay for it.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, cast

from ..wire.protocol import FailedImport

if TYPE_CHECKING:
    from importlib.abc import Loader

FAILED_IMPORT_HOOK = "__grader_import_failed__"

# Importable only inside a notebook front-end; here, stand-ins that accept and ignore everything.
FRONT_END_MODULES = ("google.colab", "ipywidgets", "colab_widgets")

ALIASES = {"np": "numpy", "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}


# ---- failed imports do not stop a cell ----------------------------------------------------------
def guard_imports(tree: ast.Module) -> ast.Module:
    """Each top-level import (one name at a time) wrapped so that its ImportError is reported, not raised."""
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            # Legal at a cell's top, as each cell is compiled on its own in Jupyter; it must stay
            # first to compile, and it cannot fail to import.
            body.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            body.extend(_guarded(single) for single in _one_name_each(node))
        else:
            body.append(node)
    tree.body = body
    return ast.fix_missing_locations(tree)


def _one_name_each(node: ast.Import | ast.ImportFrom) -> list[ast.stmt]:
    # `import librosa, numpy as np` must still bind np when librosa is missing.
    if len(node.names) == 1 or any(alias.name == "*" for alias in node.names):
        return [node]
    if isinstance(node, ast.Import):
        return [ast.copy_location(ast.Import(names=[alias]), node) for alias in node.names]
    return [
        ast.copy_location(ast.ImportFrom(module=node.module, names=[alias], level=node.level), node)
        for alias in node.names
    ]


def _guarded(node: ast.stmt) -> ast.stmt:
    report = ast.Expr(
        ast.Call(
            func=ast.Name(FAILED_IMPORT_HOOK, ast.Load()),
            args=[ast.Name("__grader_error__", ast.Load()), ast.Constant(node.lineno)],
            keywords=[],
        )
    )
    handler = ast.ExceptHandler(
        type=ast.Name("ImportError", ast.Load()), name="__grader_error__", body=[report]
    )
    guarded = ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[])
    return ast.copy_location(guarded, node)


class FailedImports:
    """Collects the imports that failed while one cell ran, for the cell's reply."""

    def __init__(self) -> None:
        self.found: list[FailedImport] = []

    def __call__(self, error: BaseException, line: int) -> None:
        name = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
        try:
            message = str(error)[:300]
        except BaseException:  # a hostile __str__
            message = ""
        if len(self.found) < 20:
            self.found.append({"module": str(name or "")[:100], "message": message, "line": int(line)})

    def take(self) -> list[FailedImport]:
        found, self.found = self.found, []
        return found


# ---- front-end modules ------------------------------------------------------------------------
class Inert:
    """Accepts any use and does nothing: ``drive.mount('/content/drive')``, ``files.upload()``."""

    def __getattr__(self, name: str) -> Inert:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Inert()

    def __call__(self, *args: Any, **kwargs: Any) -> Inert:
        return Inert()

    def __getitem__(self, key: Any) -> Inert:
        return Inert()

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __enter__(self) -> Inert:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "<not available in the grader>"


class StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Inert()


class StandInFinder:
    """Serves FRONT_END_MODULES (and parent packages that are not installed, such as ``google``):
    a meta path finder and loader by its methods (importlib.abc would cost the worker 2 ms to import)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith(tuple(m + "." for m in FRONT_END_MODULES)) or fullname in FRONT_END_MODULES:
            return importlib.machinery.ModuleSpec(fullname, cast("Loader", self), is_package=True)
        if any(m.startswith(fullname + ".") for m in FRONT_END_MODULES) and not _installed(fullname, self):
            return importlib.machinery.ModuleSpec(fullname, cast("Loader", self), is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _installed(name: str, finder: StandInFinder) -> bool:
    for other in sys.meta_path:
        if other is finder or not hasattr(other, "find_spec"):
            continue
        try:
            if other.find_spec(name, None) is not None:
                return True
        except (ImportError, ValueError, AttributeError):
            continue
    return False


# ---- aliases of a deleted import cell ---------------------------------------------------------
class _LazyAlias:
    """``np`` in builtins until first use; then the real module takes its place there."""

    def __init__(self, alias: str, module: str):
        self._alias = alias
        self._module = module

    def _load(self) -> Any:
        real = importlib.import_module(self._module)
        setattr(builtins, self._alias, real)
        return real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)

    def __repr__(self) -> str:
        return f"<module {self._module!r}>"


PRELOADABLE = ("torch",)


def preload(name: str) -> None:
    """Import a module the notebook will use before its cells run, so that a function importing
    it in its body (or using the ``torch`` alias) does not spend its short call limit on it."""
    try:
        importlib.import_module(name)
    except ImportError:
        pass


def install() -> None:
    """Set up the worker's import rules; called once, after confinement, before any student code.

    The working directory (the worker's own scratch folder) goes last on sys.path, as Jupyter
    has it first: a module a notebook wrote with ``%%writefile`` imports, and none can shadow numpy.
    """
    sys.path.append(os.getcwd())
    sys.meta_path.insert(0, StandInFinder())
    for alias, module in ALIASES.items():
        if not hasattr(builtins, alias):
            setattr(builtins, alias, _LazyAlias(alias, module))
