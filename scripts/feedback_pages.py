"""Two pages that show a wrong 2-D answer as students see it, for a screenshot in a real browser:
the Gradescope feedback (the test's Markdown output, rendered) and the executed handout (its
self-check output, the text and the table), both for a conv2d that flips its kernel.

    python scripts/feedback_pages.py OUT_DIR      (writes gradescope.html and notebook.html)
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import markdown
import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from test_selfcheck import CNN_MISTAKES, mistaken_notebook  # noqa: E402

from grader.api import grade_notebook  # noqa: E402
from grader.authoring.build import build_stub  # noqa: E402
from grader.config import load_assignment  # noqa: E402

STYLE = """<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:20px auto;color:#222}
pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;font-size:12px} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px} h2{font-size:18px}</style>"""


def gradescope_page(results: dict) -> str:
    test = next(t for t in results["tests"] if t.get("output_format") == "md")
    body = markdown.markdown(test["output"], extensions=["fenced_code", "tables"])
    title = html.escape(f"{test.get('number', '')} {test['name']} ({test['score']:g}/{test['max_score']:g})")
    return f"<html><head>{STYLE}</head><body><h2>{title}</h2>{body}</body></html>"


def notebook_page(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()
    parts = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or 'selfcheck("conv2d"' not in cell.source:
            continue
        parts.append(f"<pre>In: {html.escape(cell.source)}</pre>")
        for out in cell.outputs:
            if out.get("output_type") == "stream":
                parts.append(f"<pre>{html.escape(out['text'])}</pre>")
            elif "text/html" in out.get("data", {}):
                parts.append(out["data"]["text/html"])
    return f"<html><head>{STYLE}</head><body><h2>The notebook's self-check of conv2d</h2>{''.join(parts)}</body></html>"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = mistaken_notebook("cnn", CNN_MISTAKES[0], out)  # conv2d flips its kernel
    results = json.loads(grade_notebook(path, "cnn", public_only=True).to_json())
    (out / "gradescope.html").write_text(gradescope_page(results), encoding="utf-8")
    (out / "notebook.html").write_text(notebook_page(path), encoding="utf-8")
    assert build_stub(load_assignment("cnn"))  # the handout the notebook was made from still builds


if __name__ == "__main__":
    main(Path(sys.argv[1]))
