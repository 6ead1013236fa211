"""Mutation testing of the reference solutions: does every plausible bug lose points?

For each assignment, the solution code is extracted from the reference notebook (every code cell
made only of imports, functions and classes) into a module in a temporary folder. mutmut's
mutation operators (its libcst-based ``MutationVisitor``; see docs/validity.md for why mutmut and
why not its own runner) make one mutant per change, restricted to the lines between the
``### BEGIN SOLUTION`` and ``### END SOLUTION`` markers. Each mutant is graded as a one-cell
notebook with the real grader (``grade_notebook``), in long-lived worker processes; a mutant is
killed when it scores below full marks.

Survivors that cannot be killed (equivalent mutants) are declared with the reason in
``solutions/<assignment>/mutation_equivalents.toml``; the kill rate counts only the others. Exit status 1 when an assignment's kill rate is below 95 %, the
unmutated module does not get full marks, or a mutant could not be graded.

    python scripts/mutation.py [ASSIGNMENT ...] [--solutions DIR] [--jobs 2] [--report FILE.json] [--list]

Without names, every assignment under the solutions folder is tested.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = Path(os.environ.get("GRADER_SOLUTIONS") or REPO / "solutions")  # as the grader finds them
THRESHOLD = 0.95
MUTMUT_VERSION = "3.3.1"  # create_mutations/MutationVisitor/deep_replace are internal: pin and check
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# Mutants no test can kill, because the mutated code computes the same results for every input
# the assignment allows, are declared next to the assignment's tests, with the reason (see
# docs/authoring.md): keyed by (function, original line, mutated line).
EQUIVALENTS_FILE = "mutation_equivalents.toml"
Key = tuple[str, str, str]


def load_equivalents(assignment: str) -> dict[Key, str]:
    """solutions/<assignment>/mutation_equivalents.toml; refused when an entry lacks a key or a reason."""
    path = SOLUTIONS / assignment / EQUIVALENTS_FILE
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"equivalent"}
    if unknown:
        raise SystemExit(
            f"mutation: {path}: unknown table(s) {', '.join(sorted(unknown))}; "
            "the valid one is [[equivalent]]"
        )
    found: dict[Key, str] = {}
    fields = ("function", "original", "mutated", "reason")
    for number, entry in enumerate(data.get("equivalent", []), start=1):
        if set(entry) != set(fields) or not all(isinstance(entry[k], str) and entry[k] for k in fields):
            raise SystemExit(
                f"mutation: {path}: equivalent #{number} needs exactly {', '.join(fields)} "
                f"(non-empty strings), not {sorted(entry)}"
            )
        found[(entry["function"], entry["original"], entry["mutated"])] = entry["reason"]
    return found


# ---- extracting the solution ------------------------------------------------------------------
def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _definitions_only(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return bool(tree.body) and all(isinstance(node, kinds) for node in tree.body)


def solution_module(assignment: str) -> str:
    """The reference notebook's definition cells (imports, functions, classes) as one module."""
    from grader.config import load_assignment

    spec = load_assignment(assignment, SOLUTIONS)
    notebook = json.loads(spec.reference_notebook.read_text(encoding="utf-8"))
    cells = [_source(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    return "\n\n\n".join(s.strip("\n") for s in cells if _definitions_only(s)) + "\n"


def solution_lines(code: str) -> set[int]:
    """Line numbers (1-based) strictly between the solution markers."""
    lines, inside = set(), False
    for number, line in enumerate(code.splitlines(), start=1):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def owners(code: str) -> dict[int, str]:
    """Line number -> the top-level function or class it belongs to."""
    owner = {}
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for line in range(node.lineno, node.end_lineno + 1):
                owner[line] = node.name
    return owner


# ---- making mutants ---------------------------------------------------------------------------
@dataclass
class Mutant:
    assignment: str
    index: int
    function: str
    line: int
    original: str
    mutated: str
    code: str = field(repr=False)
    status: str = "pending"  # killed | survived | equivalent | error
    reason: str = ""
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function, self.original, self.mutated)


def _changed(before: str, after: str) -> tuple[str, str]:
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    gone, came = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            gone += old[i1:i2]
            came += new[j1:j2]
    return " / ".join(s.strip() for s in gone), " / ".join(s.strip() for s in came)


def make_mutants(assignment: str, code: str) -> list[Mutant]:
    import libcst as cst
    import mutmut
    from libcst.metadata import MetadataWrapper, PositionProvider
    from mutmut.file_mutation import MutationVisitor, deep_replace
    from mutmut.node_mutation import mutation_operators

    if getattr(mutmut, "__version__", None) != MUTMUT_VERSION:
        raise SystemExit(
            f"mutation: needs mutmut {MUTMUT_VERSION} (its internal API), found "
            f"{getattr(mutmut, '__version__', '?')}"
        )
    keep = solution_lines(code)
    ignored = set(range(1, code.count("\n") + 2)) - keep
    wrapper = MetadataWrapper(cst.parse_module(code))
    visitor = MutationVisitor(mutation_operators, ignored)
    tree = wrapper.visit(visitor)
    positions = wrapper.resolve(PositionProvider)
    owner = owners(code)
    mutants, seen = [], set()
    for mutation in visitor.mutations:
        line = positions[mutation.original_node].start.line
        if line not in keep:
            continue
        mutated = deep_replace(tree, mutation.original_node, mutation.mutated_node).code
        if mutated == code or mutated in seen:
            continue
        try:
            compile(mutated, "<mutant>", "exec")
        except SyntaxError:
            continue
        seen.add(mutated)
        old, new = _changed(code, mutated)
        mutants.append(Mutant(assignment, len(mutants) + 1, owner.get(line, "?"), line, old, new, mutated))
    return mutants


# ---- grading ----------------------------------------------------------------------------------
def _notebook(code: str, assignment: str) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "id": "solution",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": code,
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "grader": {"assignment": assignment},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _init_worker(preload: tuple[str, ...]) -> None:
    # A grading worker is forked from this process: modules imported here are not imported again
    # by every mutant's notebook (torch takes seconds). Nothing is run here, so no threads exist.
    import importlib

    for name in preload:
        importlib.import_module(name)
    import grader.api
    import grader.testing.run  # noqa: F401


def grade_code(assignment: str, code: str, path: str) -> dict:
    from grader.api import INTERNAL_PROBLEM, grade_notebook

    Path(path).write_text(json.dumps(_notebook(code, assignment)), encoding="utf-8")
    started = time.monotonic()
    results = grade_notebook(Path(path), assignment, solutions_root=SOLUTIONS)
    return {
        "score": results.score,
        "max_score": results.max_score,
        "failed": [t.number or t.name for t in results.tests if t.status != "passed"],
        "internal_problem": INTERNAL_PROBLEM in results.output,
        "seconds": time.monotonic() - started,
    }


def run(assignment: str, jobs: int, workdir: Path, only_list: bool, log=print) -> tuple[list[Mutant], dict]:
    code = solution_module(assignment)
    equivalents = load_equivalents(assignment)
    (workdir / f"{assignment}_solution.py").write_text(code, encoding="utf-8")
    mutants = make_mutants(assignment, code)
    if only_list:
        return mutants, {}
    preload = ("torch", "torch.nn") if "import torch" in code else ()
    notebooks = workdir / assignment
    notebooks.mkdir(exist_ok=True)
    started = time.monotonic()
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("fork"), initializer=_init_worker, initargs=(preload,)
    ) as pool:
        baseline = pool.submit(grade_code, assignment, code, str(notebooks / "unmutated.ipynb")).result()
        if baseline["score"] < baseline["max_score"] or baseline["internal_problem"]:
            raise SystemExit(
                f"mutation: the unmutated {assignment} solution scores "
                f"{baseline['score']}/{baseline['max_score']} (failed: {baseline['failed']})"
            )
        futures = [
            pool.submit(grade_code, assignment, m.code, str(notebooks / f"mutant_{m.index:03d}.ipynb"))
            for m in mutants
        ]
        for done, (mutant, future) in enumerate(zip(mutants, futures), start=1):
            outcome = future.result()
            mutant.failed, mutant.seconds = outcome["failed"], outcome["seconds"]
            if outcome["internal_problem"]:
                mutant.status = "error"
            elif outcome["score"] < outcome["max_score"]:
                mutant.status = "killed"
            elif mutant.key in equivalents:
                mutant.status, mutant.reason = "equivalent", equivalents[mutant.key]
            else:
                mutant.status = "survived"
            if done % 25 == 0:
                log(
                    f"  {assignment}: {done}/{len(mutants)} mutants graded ({time.monotonic() - started:.0f} s)"
                )
    return mutants, {"baseline": baseline, "seconds": time.monotonic() - started}


# ---- reporting --------------------------------------------------------------------------------
def rate(killed: int, total: int, equivalent: int) -> float:
    relevant = total - equivalent
    return killed / relevant if relevant else 1.0


def summarise(assignment: str, mutants: list[Mutant], info: dict) -> tuple[str, float]:
    functions: dict[str, list[Mutant]] = {}
    for m in mutants:
        functions.setdefault(m.function, []).append(m)
    lines = [
        f"{assignment}: {len(mutants)} mutants (mutmut {MUTMUT_VERSION} operators), graded in "
        f"{info.get('seconds', 0):.0f} s",
        f"  {'function':<20}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'survived':>9}{'kill rate':>11}",
    ]
    rows = list(functions.items()) + [("all", mutants)]
    for name, group in rows:
        count = {s: sum(m.status == s for m in group) for s in ("killed", "equivalent", "survived", "error")}
        r = rate(count["killed"], len(group), count["equivalent"])
        lines.append(
            f"  {name:<20}{len(group):>8}{count['killed']:>8}{count['equivalent']:>8}"
            f"{count['survived'] + count['error']:>9}{100 * r:>10.1f}%"
        )
    total = rate(
        sum(m.status == "killed" for m in mutants),
        len(mutants),
        sum(m.status == "equivalent" for m in mutants),
    )
    for m in mutants:
        if m.status == "equivalent":
            lines.append(f"  equivalent #{m.index} {m.function}: `{m.original}` -> `{m.mutated}`: {m.reason}")
    for m in mutants:
        if m.status in ("survived", "error"):
            lines.append(
                f"  {m.status.upper()} #{m.index} {m.function} (line {m.line}): "
                f"`{m.original}` -> `{m.mutated}`"
            )
    registered = load_equivalents(assignment)
    made = {m.key for m in mutants}
    for key in registered:
        if key not in made:
            lines.append(f"  note: the equivalent mutant {key} was not generated (the reference changed?)")
    for m in mutants:
        if m.status == "killed" and m.key in registered:
            lines.append(f"  note: #{m.index} is listed as equivalent but was killed: {m.key}")
    verdict = "ok" if total >= THRESHOLD else f"BELOW {100 * THRESHOLD:.0f}%"
    lines.append(f"  {assignment} kill rate (non-equivalent mutants): {100 * total:.1f}%  [{verdict}]")
    return "\n".join(lines), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    parser.add_argument(
        "--solutions",
        type=Path,
        default=None,
        help="the solutions folder (default: $GRADER_SOLUTIONS or the checkout's)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="grading processes (default 2)")
    parser.add_argument("--report", type=Path, help="write every mutant and its fate as JSON here")
    parser.add_argument("--list", action="store_true", help="only list the mutants, do not grade them")
    parser.add_argument("--workdir", type=Path, help="keep the extracted module and mutant notebooks here")
    args = parser.parse_args(argv)
    global SOLUTIONS
    SOLUTIONS = (args.solutions or SOLUTIONS).resolve()  # read by the forked grading processes too
    from grader.config import available_assignments

    args.assignments = args.assignments or available_assignments(SOLUTIONS)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="grader-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ok, report = True, {}
    for assignment in args.assignments:
        mutants, info = run(
            assignment, args.jobs, workdir, args.list, log=lambda s: print(s, file=sys.stderr)
        )
        if args.list:
            for m in mutants:
                print(
                    f"{assignment} #{m.index} {m.function} (line {m.line}): `{m.original}` -> `{m.mutated}`"
                )
            continue
        text, total = summarise(assignment, mutants, info)
        print(text, flush=True)
        ok &= total >= THRESHOLD and not any(m.status == "error" for m in mutants)
        report[assignment] = {
            "kill_rate": total,
            "seconds": info["seconds"],
            "mutants": [{k: v for k, v in asdict(m).items() if k != "code"} for m in mutants],
        }
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if not args.workdir and not args.list:
        print(f"(mutant notebooks in {workdir})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
