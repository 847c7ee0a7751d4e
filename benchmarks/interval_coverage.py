"""How often the ablation's 95% interval holds the true change: simulated A/A comparisons.

    python benchmarks/interval_coverage.py [--draws 4000] [--blocks 64]

Each draw builds two variants' run records with no true difference: per seed a training
offset (standard deviation ``ratio`` times the evaluation noise of the mean), per block an
evaluation offset common to every seed, plus a little per-run block noise, and passes them to
``trainer.ablation_stats.interval`` (the code verdicts use). The share of draws whose interval
holds 0 is its coverage; below 95% the rule calls A/A pairs "helps"/"hurts" more often than it
says. The rule's df is the training part's, K - 1 (conservative); beside it, the same interval
with Welch-Satterthwaite's df (the rule before 2026-12-07), which under-covers when training
noise dominates and the seeds are few.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.ablation_stats import interval, t_quantile  # noqa: E402


def runs_of(d: np.ndarray, counts: list[int]) -> dict:
    """Run records of "A" (all zeros) and "B" (= d[seed, block]) as the ablation keeps them."""

    def record(nll: np.ndarray) -> dict:
        return {"points": [{"blocks": {"eval": {"nll": nll.tolist(), "counts": counts}}}]}

    return {
        "A": {k + 1: record(np.zeros(d.shape[1])) for k in range(d.shape[0])},
        "B": {k + 1: record(d[k]) for k in range(d.shape[0])},
    }


def coverage(
    seeds: int, ratio: float, draws: int, rng: np.random.Generator, blocks: int = 64
) -> tuple[float, float]:
    """Shares of ``draws`` A/A pairs whose interval holds 0: the rule's, and with Welch's df.

    Per draw: a training offset per seed (standard deviation ``ratio`` times the evaluation
    standard error of the mean, 0.01), an evaluation offset per block common to the seeds, and
    per-run block noise of 0.3 times the block offset's size.
    """
    se_mean = 0.01
    per_block = se_mean * math.sqrt(blocks)
    counts = [512] * blocks
    held = held_welch = 0
    for _ in range(draws):
        d = (
            rng.normal(0, ratio * se_mean, seeds)[:, None]
            + rng.normal(0, per_block, blocks)[None, :]
            + rng.normal(0, 0.3 * per_block, (seeds, blocks))
        )
        iv = interval("A", "B", runs_of(d, counts), tuple(range(1, seeds + 1)))
        lo, hi = iv["interval_log_ppl"]
        held += lo <= 0 <= hi
        se = math.hypot(iv["training_se"], iv["eval_se"])
        held_welch += abs(iv["mean_log_ppl_diff"]) <= t_quantile(0.975, iv["welch_df"]) * se
    return held / draws, held_welch / draws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    heading = ("seeds", "training/eval noise", "coverage (rule)", "coverage (Welch df)")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heading, (5, 20, 16, 19), strict=True)))
    for seeds in (2, 3, 4, 8):
        for ratio in (0.25, 1.0, 4.0):
            rule, welch = coverage(seeds, ratio, args.draws, rng, args.blocks)
            print(f"{seeds:>5} {ratio:>20.2f} {rule:>16.3f} {welch:>19.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
