"""Loss curves: train and validation loss from log records (log.jsonl), written as a PNG.

One function draws them for a run's own ``loss.png`` and for an ablation report's comparison
of its variants (trainer/ablation_report.py); a ``LossStyle`` says how each looks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Figure + savefig without pyplot renders with Agg and never touches a display or the
# process-wide backend, so plotting is safe on headless machines and inside other programs.
from matplotlib.figure import Figure


@dataclass(frozen=True)
class LossStyle:
    """How a loss plot looks; the defaults are a run's own loss.png."""

    x: str = "step"  # the record field on the x axis
    xlabel: str = "step"
    from_step_zero: bool = True  # draw the untrained model's record too
    figsize: tuple[float, float] = (7, 4.5)
    train_label: str = "train loss"  # "{name}" is replaced by the run's name
    val_label: str = "val loss"
    train_line: Mapping[str, Any] = field(default_factory=lambda: {"linewidth": 1, "alpha": 0.8})
    val_line: Mapping[str, Any] = field(default_factory=lambda: {"marker": "o", "linewidth": 1.5})
    legend: Mapping[str, Any] = field(default_factory=dict)


def plot_losses(
    runs: Mapping[str, Sequence[dict[str, Any]]],
    path: str | Path,
    title: str = "",
    style: LossStyle = LossStyle(),  # noqa: B008 - frozen, never mutated
    colors: Mapping[str, str] | None = None,
) -> Path:
    """Plot each run's ``loss`` and ``val_loss`` (log records by run name) into ``path``.

    Without ``colors`` the lines take matplotlib's colour cycle in turn; with them, both
    lines of a run share its colour.
    """
    fig = Figure(figsize=style.figsize, dpi=100)
    ax = fig.add_subplot()
    for name, records in runs.items():
        shown = [r for r in records if style.from_step_zero or r["step"] > 0]
        train = [(r[style.x], r["loss"]) for r in shown]
        val = [(r[style.x], r["val_loss"]) for r in shown if "val_loss" in r]
        color = (colors or {}).get(name)
        if train:
            label = style.train_label.format(name=name)
            ax.plot(*zip(*train, strict=True), color=color, label=label, **style.train_line)
        if val:
            label = style.val_label.format(name=name)
            ax.plot(*zip(*val, strict=True), color=color, label=label, **style.val_line)
    ax.set_xlabel(style.xlabel)
    ax.set_ylabel("cross-entropy (nats/token)")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(**style.legend)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out
