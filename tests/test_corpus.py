"""Notebooks written by strangers from the contracts alone grade as tests/corpus/manifest.json says.

Each entry of the manifest names one notebook and what it deserves:

* ``full``: every contract function is right, so no test may take a point;
* ``zero``: the notebook implements nothing (``return None``, ``pass``, constants, its input
  unchanged, ...), so the total must be 0;
* ``fails``: exactly the listed functions are wrong, so each of them loses points and every other
  function loses none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import by_function

CORPUS = Path(__file__).parent / "corpus"
MANIFEST: dict[str, dict] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
EXPECTATIONS = ("full", "zero", "fails")


def explain(key: str, entry: dict, results, lost: dict) -> str:
    """What a developer needs to see when a corpus notebook grades differently than expected."""
    lines = [
        f"{key}: expected {entry['expect']}"
        + (f" (losing points in {', '.join(entry['functions'])} only)" if entry["expect"] == "fails" else "")
        + f" because {entry['why']}",
        f"score {results.score:g} of {results.max_score:g}",
        "points lost per function: "
        + (
            ", ".join(
                f"{name}={value:g}"
                for name, value in sorted(lost.items(), key=lambda kv: str(kv[0]))
                if value
            )
            or "none"
        ),
    ]
    for test in results.tests:
        if test.score < test.max_score:
            output = " | ".join(line.strip() for line in test.output.strip().splitlines() if line.strip())
            lines.append(
                f"- [{test.function}] {test.name} ({test.score:g}/{test.max_score:g}): {output[:400]}"
            )
    if results.output:
        lines.append("grader output: " + results.output.strip()[:1500])
    return "\n".join(lines)


def test_every_corpus_notebook_has_exactly_one_well_formed_manifest_entry():
    on_disk = {f"{path.parent.name}/{path.name}" for path in CORPUS.glob("*/*.ipynb")}
    assert on_disk == set(MANIFEST), (
        f"not in the manifest: {sorted(on_disk - set(MANIFEST))}; no such file: {sorted(set(MANIFEST) - on_disk)}"
    )
    for key, entry in MANIFEST.items():
        assert entry["expect"] in EXPECTATIONS, key
        assert (entry["expect"] == "fails") == bool(entry.get("functions")), key
        assert entry.get("why"), key


@pytest.mark.parametrize("key", sorted(MANIFEST), ids=sorted(MANIFEST))
def test_a_notebook_written_from_the_contract_grades_as_its_manifest_says(key, batch_graded):
    entry = MANIFEST[key]
    assignment = key.split("/", 1)[0]
    results = batch_graded(CORPUS / key, assignment)
    lost = by_function(results)
    report = explain(key, entry, results, lost)

    assert results.tests, report
    if entry["expect"] == "full":
        assert not any(value > 0 for value in lost.values()), report
        assert results.score == pytest.approx(results.max_score), report
    elif entry["expect"] == "zero":
        assert results.score == 0, report
    else:
        wrong = set(entry["functions"])
        assert all(lost.get(name, 0) > 0 for name in wrong), report
        assert not any(value > 0 for name, value in lost.items() if name not in wrong), report
        assert results.score > 0, report
