"""The loss curve: train and validation loss against step, written as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Figure + savefig without pyplot renders with Agg and never touches a display or the
# process-wide backend, so plotting is safe on headless machines and inside other programs.
from matplotlib.figure import Figure


def plot_losses(records: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Plot ``loss`` and ``val_loss`` from log records (as in log.jsonl) into ``path``."""
    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", linewidth=1, alpha=0.8)
    if val:
        ax.plot(*zip(*val, strict=True), label="val loss", marker="o", linewidth=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out
