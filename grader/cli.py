"""Command line: a thin layer over :mod:`grader.api` and friends."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from . import terminal
from .errors import GraderError
from .results import GradingResults, ResultsFile
from .settings import Settings


def cmd_grade(args: argparse.Namespace, settings: Settings, public_only: bool = False) -> int:
    from .api import grade_notebook

    out = getattr(args, "out", None)
    try:
        # Before any student code runs: a notebook that fills the disk cannot cost the file.
        target = ResultsFile(Path(out)) if out else None
    except OSError as exc:
        print(f"grader: cannot write results to {out}: {exc}", file=sys.stderr)
        return 2
    try:
        results = grade_notebook(
            Path(args.notebook),
            args.assignment,
            solutions_root=args.solutions,
            public_only=public_only,
            hidden=[Path(out).resolve().parent] if out else [],
            settings=settings,
        )
        if target is not None:
            target.write(results)
    finally:
        if target is not None:
            target.discard()
    for note in staff_notes(results):
        print(f"grader: {note}", file=sys.stderr)
    if getattr(args, "json", False):
        print(results.to_json(), end="")
    else:
        hidden = _hidden_note(results, args) if public_only else ""
        print(terminal.summary(Path(args.notebook).name, results, hidden=hidden))
        if out:
            print(f"Results written to {args.out}")
    return 0 if results.tests else 1


def _hidden_note(results: GradingResults, args: argparse.Namespace) -> str:
    """What the visible score leaves out: the hidden tests' number and points, read from their source."""
    from .authoring.selfcheck import hidden_sentence, hidden_total
    from .config import ConfigError, load_assignment

    try:
        spec = load_assignment(str(results.extra_data.get("assignment", "")), args.solutions)
    except ConfigError:
        return ""
    count, points = hidden_total(spec.tests_dir)
    return hidden_sentence(count, points) if count else ""


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    return cmd_grade(args, settings, public_only=True)


def cmd_gradescope(args: argparse.Namespace, settings: Settings) -> int:
    from .gradescope.entry import run_gradescope

    root = Path(args.root)
    results = run_gradescope(
        root, solutions_root=args.solutions, assignment=args.assignment, settings=settings
    )
    print(terminal.summary(f"Gradescope run in {root}", results))
    return 0  # Gradescope reads results.json; a non-zero exit would only hide it


def cmd_package(args: argparse.Namespace, settings: Settings) -> int:
    from .config import ConfigError
    from .gradescope.packaging import build_autograder_zip

    if getattr(args, "student", False):
        return _package_student(args)

    out = Path(args.out or f"{args.assignment}-autograder.zip")
    try:
        path = build_autograder_zip(args.assignment, out, solutions_root=args.solutions)
    except ConfigError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {path}: upload it as the autograder of a Gradescope programming assignment.")
    return 0


def _package_student(args: argparse.Namespace) -> int:
    from .authoring.build import BuildError, build_stub
    from .authoring.selfcheck import write_student_kit
    from .config import ConfigError, load_assignment

    out = Path(args.out or f"{args.assignment}-student")
    try:
        spec = load_assignment(args.assignment, args.solutions)
        root = write_student_kit(spec, build_stub(spec), out)
    except (BuildError, ConfigError, OSError, ValueError) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    print(
        f"Wrote {root}: the notebook and its visible tests, nothing hidden. Students run "
        f"`grader --solutions {out} check NOTEBOOK`."
    )
    return 0


def _assignments_root(solutions: Path | None) -> Path:
    from .config import default_solutions_root

    return (solutions or default_solutions_root()).resolve().parent / "assignments"


def _names(args: argparse.Namespace) -> list[str]:
    from .config import available_assignments

    return args.assignments or available_assignments(args.solutions)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .authoring import selfcheck
    from .authoring.build import BuildError, build_stub, stub_path, write_stub
    from .authoring.handout import render
    from .config import ConfigError, load_assignment

    status = 0
    for name in _names(args):
        try:
            spec = load_assignment(name, args.solutions)
            if args.check:
                path = stub_path(spec, _assignments_root(args.solutions))
                current = path.read_text(encoding="utf-8") if path.is_file() else None
                if current != render(build_stub(spec)):
                    print(f"{path} is out of date: run `grader build {name}`", file=sys.stderr)
                    status = 1
                continue
            print(f"Wrote {write_stub(spec, _assignments_root(args.solutions))}")
            for note in selfcheck.build_notes(spec):
                print(f"grader: {name}: {note}", file=sys.stderr)
        except (BuildError, ConfigError, OSError, ValueError) as exc:
            print(f"grader: {name}: {exc}", file=sys.stderr)
            status = 2
    return status


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from .authoring.build import stub_path
    from .authoring.validation import validate
    from .config import ConfigError, load_assignment

    status, seen = 0, set[str]()
    for name in _names(args):
        try:
            spec = load_assignment(name, args.solutions)
        except ConfigError as exc:
            print(f"grader: {exc}", file=sys.stderr)
            return 2
        committed = stub_path(spec, _assignments_root(args.solutions))
        found = validate(spec, committed, args.solutions, settings)
        if found.build_error:
            print(f"{name} stub: cannot be built WRONG\ngrader: {name}: {found.build_error}", file=sys.stderr)
        elif found.stale:
            print(
                f"grader: note: {committed} is not what `grader build {name}` writes now: run it",
                file=sys.stderr,
            )
        for problem in found.numbering:
            print(f"{name} numbering: {problem} WRONG", file=sys.stderr)
        for case in found.cases:
            results = case.results
            verdict = (
                f", {case.errored} test{'s' if case.errored != 1 else ''} errored" if case.errored else ""
            )
            print(
                f"{name} {case.label}: {results.score:g}/{results.max_score:g}{verdict} {'ok' if case.ok else 'WRONG'}"
            )
            _print_once(staff_notes(case.results), seen)
            if not case.ok:
                print(terminal.summary(str(case.path), results), file=sys.stderr)
        if not found.ok:
            status = 1
    return status


def staff_notes(results: GradingResults) -> list[str]:
    """What grading had to tell course staff (a test's own error, a clean-up that failed)."""
    notes = results.extra_data.get("instructor_notes", [])
    return [str(note) for note in notes] if isinstance(notes, list) else []


def _print_once(notes: list[str], seen: set[str]) -> None:
    """Notes for course staff on stderr, each once: a test that errors on the reference usually
    errors on the stub too, with the same message."""
    for note in notes:
        # Object addresses differ between the two runs of one traceback.
        key = re.sub(r" at 0x[0-9a-fA-F]+", "", note)
        if key not in seen:
            seen.add(key)
            print(f"grader: {note}", file=sys.stderr)


def cmd_grade_all(args: argparse.Namespace, settings: Settings) -> int:
    from .batch import grade_all

    source = Path(args.input)
    out = Path(args.out) if args.out else Path(f"{source.stem or 'batch'}-graded")
    if args.compare and Path(args.compare).resolve() == out.resolve():
        print(
            "grader: --compare needs the old results in another folder than --out "
            "(grade into a new folder, then compare)",
            file=sys.stderr,
        )
        return 2
    try:
        summary = grade_all(
            source,
            out,
            jobs=args.jobs,
            force=args.force,
            assignment=args.assignment,
            solutions_root=args.solutions,
            compare=Path(args.compare) if args.compare else None,
            without_namespaces=args.without_namespaces,
        )
    except (OSError, ValueError, GraderError) as exc:  # GraderError: no isolation, no such assignment
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary.submissions} submissions: {summary.graded} graded in {summary.seconds:.1f} s, "
        f"{summary.skipped} already graded (--force grades them again), "
        f"{summary.internal_errors} internal errors."
    )
    if summary.comparison is not None:
        from .batch.regrade import as_text

        print(as_text(summary.comparison))
    print(f"Grades: {summary.grades_csv}")
    print(f"Report: {summary.report}" if summary.report else f"Report: {summary.report_problem}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader", description="Grade Jupyter notebooks safely, for Gradescope or locally."
    )
    parser.add_argument(
        "--solutions",
        type=Path,
        default=None,
        help="the solutions folder: it holds one <assignment>/ folder per assignment, and `build` writes "
        "handouts to assignments/ beside it (default: $GRADER_SOLUTIONS, the checkout's solutions/, or "
        "/autograder/source/solutions)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_grading_commands(sub)
    _add_authoring_commands(sub)
    _add_batch_command(sub)
    return parser


# argparse's own type for the object add_subparsers returns is private; only add_parser is used.
Commands = Any


def _add_grading_commands(sub: Commands) -> None:
    grade = sub.add_parser("grade", help="grade one notebook with all tests and print the result")
    grade.add_argument("notebook")
    grade.add_argument("--assignment", help="assignment name (default: read from the notebook's metadata)")
    grade.add_argument("--out", help="also write Gradescope's results.json here")
    grade.add_argument("--json", action="store_true", help="print results.json instead of a summary")
    grade.set_defaults(func=cmd_grade)

    check = sub.add_parser("check", help="run only the public tests on a notebook (for students)")
    check.add_argument("notebook")
    check.add_argument("--assignment")
    check.set_defaults(func=cmd_check)

    gs = sub.add_parser("gradescope", help="grade the submission in a Gradescope /autograder layout")
    gs.add_argument("--root", default="/autograder", help="the /autograder folder (default: /autograder)")
    gs.add_argument(
        "--assignment", help="the assignment this autograder grades (default: the only one installed)"
    )
    gs.set_defaults(func=cmd_gradescope)


def _add_authoring_commands(sub: Commands) -> None:

    package = sub.add_parser("package", help="write autograder.zip for Gradescope's zip upload route")
    package.add_argument("assignment")
    package.add_argument(
        "--out",
        help="zip file to write (default: ASSIGNMENT-autograder.zip; "
        "with --student, a folder, default ASSIGNMENT-student)",
    )
    package.add_argument(
        "--student",
        action="store_true",
        help="write the student kit instead: the notebook and its visible tests, no solution or hidden test",
    )
    package.set_defaults(func=cmd_package)

    build = sub.add_parser("build", help="generate student notebooks in assignments/ from solutions/")
    build.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    build.add_argument("--check", action="store_true", help="only check that the committed stubs are current")
    build.set_defaults(func=cmd_build)

    validate = sub.add_parser("validate", help="prove the reference scores full marks and the stub zero")
    validate.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    validate.set_defaults(func=cmd_validate)


def _add_batch_command(sub: Commands) -> None:

    batch = sub.add_parser(
        "grade-all", help="grade a folder of notebooks or a Gradescope export, in parallel"
    )
    batch.add_argument(
        "input", help="folder of .ipynb files, or a Gradescope 'Export Submissions' zip or folder"
    )
    batch.add_argument(
        "--out", help="output folder (default: INPUT-graded): results, grades.csv, report.html"
    )
    batch.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once (default: CPU cores)"
    )
    batch.add_argument(
        "--force", action="store_true", help="grade again submissions that already have results"
    )
    batch.add_argument(
        "--assignment", help="the one assignment this batch grades (required when more than one is installed)"
    )
    batch.add_argument(
        "--compare",
        metavar="OLD",
        help="an earlier output folder: list every submission whose "
        "score changed since, and the tests that flipped (also in report.html)",
    )
    batch.add_argument(
        "--without-namespaces",
        action="store_true",
        help="grade even where this system refuses namespaces: each student's code could then read "
        "the other submissions (report.html says so)",
    )
    batch.set_defaults(func=cmd_grade_all)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_environ()  # the one read of the environment's policy
    # --solutions wins over $GRADER_SOLUTIONS; below here the root is passed, never looked up.
    args.solutions = args.solutions or settings.solutions_root
    status: int = args.func(args, settings)
    return status


if __name__ == "__main__":
    sys.exit(main())
