"""The report's plots, drawn with matplotlib (the Agg backend) as base64 PNG to embed in the page."""

from __future__ import annotations

import base64
import io
import statistics
from typing import Any

PASS_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60")  # <40%, <70%, <90%, >=90%


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    # No timestamps or software names in the file: the same batch gives the same bytes.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def colour(rate: float) -> str:
    if rate < 0.4:
        return PASS_COLOURS[0]
    if rate < 0.7:
        return PASS_COLOURS[1]
    if rate < 0.9:
        return PASS_COLOURS[2]
    return PASS_COLOURS[3]


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def histogram(scores: list[float], full: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    top = max(full, max(scores, default=0.0), 1.0)
    bins = min(20, max(5, round(top))) if top else 10
    ax.hist(scores, bins=bins, range=(0, top), color="#2e86c1", edgecolor="white")
    if scores:
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#c0392b", linestyle="--", linewidth=1.5, label=f"mean {mean:.2f}")
        ax.legend(frameon=False)
    ax.set_xlabel(f"score (out of {full:g})")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def bars(labels: list[str], rates: list[float], title: str) -> str:
    """Horizontal bars of pass rates, coloured from red (few pass) to green."""
    plt = _pyplot()
    height = max(2.0, 0.28 * len(labels) + 1.0)
    fig, ax = plt.subplots(figsize=(9, height))
    positions = range(len(labels))
    ax.barh(list(positions), [100 * r for r in rates], color=[colour(r) for r in rates], height=0.7)
    ax.set_yticks(list(positions), [shorten(label, 60) for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    ax.set_title(title)
    for y, rate in zip(positions, rates):
        ax.text(min(100 * rate + 1, 92), y, f"{100 * rate:.0f}%", va="center", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
