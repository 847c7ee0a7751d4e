"""How often the ablation's 95% interval holds the true change: simulated A/A comparisons.

    python benchmarks/interval_coverage.py [--draws 4000] [--blocks 64] [--variants 5]

Each draw builds two variants' run records with no true difference: per seed a training
offset (standard deviation ``ratio`` times the evaluation noise of the mean), per block an
evaluation offset common to every seed, plus a little per-run block noise, and passes them to
``trainer.ablation_stats.interval`` (the code verdicts use). The share of draws whose interval
holds 0 is its coverage; below 95% the rule calls A/A pairs "helps"/"hurts" more often than it
says. The rule's df is the training part's, K - 1 (conservative); beside it, the same interval
with Welch-Satterthwaite's df (the rule before 2026-12-07), which under-covers when training
noise dominates and the seeds are few.

The second table is the rule as ablations use it with three or more variants: training noise
pooled over ``--variants`` variants with no true difference among them (an ablation of steps
that do nothing), for the comparison of two of them, first with every variant equally noisy
(the pooling's assumption), then with one of the two compared variants' runs twice as noisy
as the rest (what the "own spread if larger" guard is for), beside the pooled estimate
without that guard.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.ablation_stats import interval, pooled_training_noise, t_quantile  # noqa: E402


def record(nll: np.ndarray, counts: list[int]) -> dict:
    """A finished run's record as the ablation keeps it: final eval ppl and per-block losses."""
    blocks = {"eval": {"nll": nll.tolist(), "counts": counts}}
    return {"points": [{"eval_ppl": math.exp(float(nll.mean())), "blocks": blocks}]}


def runs_of(d: np.ndarray, counts: list[int]) -> dict:
    """Run records of "A" (all zeros) and "B" (= d[seed, block]) as the ablation keeps them."""
    return {
        "A": {k + 1: record(np.zeros(d.shape[1]), counts) for k in range(d.shape[0])},
        "B": {k + 1: record(d[k], counts) for k in range(d.shape[0])},
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


def pooled_coverage(
    seeds: int,
    ratio: float,
    draws: int,
    rng: np.random.Generator,
    variants: int = 5,
    blocks: int = 64,
    noisy: float = 1.0,
) -> tuple[float, float]:
    """Shares of ``draws`` whose interval of "v1 vs v0" holds 0, training noise pooled over
    ``variants`` null variants: the rule's (own spread kept when larger), and the pooled
    estimate alone.

    The noise of the earlier simulation, split over the variants: per run a training offset
    of standard deviation ``ratio * 0.01 / sqrt(2)`` (``noisy`` times that for v1), per
    variant an evaluation offset per block common to its seeds, and per-run block noise, so a
    difference of two variants has the noise :func:`coverage` gives it.
    """
    se_mean = 0.01
    per_block = se_mean * math.sqrt(blocks) / math.sqrt(2)
    counts = [512] * blocks
    scale = np.ones(variants)
    scale[1] = noisy
    held = held_pooled = 0
    keys = tuple(range(1, seeds + 1))
    for _ in range(draws):
        nll = (
            3.0
            + rng.normal(0, ratio * se_mean / math.sqrt(2), (variants, seeds, 1))
            * scale[:, None, None]
            + rng.normal(0, per_block, (variants, 1, blocks))
            + rng.normal(0, 0.3 * per_block, (variants, seeds, blocks))
        )
        runs = {
            f"v{v}": {k + 1: record(nll[v, k], counts) for k in range(seeds)}
            for v in range(variants)
        }
        pool = pooled_training_noise(runs, keys, list(runs))
        iv = interval("v0", "v1", runs, keys, pool=pool)
        lo, hi = iv["interval_log_ppl"]
        held += lo <= 0 <= hi
        se = math.hypot(iv["pooled"]["training_se"], iv["eval_se"])
        held_pooled += abs(iv["mean_log_ppl_diff"]) <= t_quantile(0.975, iv["df"]) * se
    return held / draws, held_pooled / draws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=64)
    parser.add_argument("--variants", type=int, default=5, help="variants pooled")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    heading = ("seeds", "training/eval noise", "coverage (rule)", "coverage (Welch df)")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heading, (5, 20, 16, 19), strict=True)))
    for seeds in (2, 3, 4, 8):
        for ratio in (0.25, 1.0, 4.0):
            rule, welch = coverage(seeds, ratio, args.draws, rng, args.blocks)
            print(f"{seeds:>5} {ratio:>20.2f} {rule:>16.3f} {welch:>19.3f}")
    print(f"\ntraining noise pooled over {args.variants} variants")
    heading = ("seeds", "training/eval noise", "v1 noise", "coverage (rule)", "pooled alone")
    widths = (5, 20, 9, 16, 13)
    print(" ".join(f"{h:>{w}}" for h, w in zip(heading, widths, strict=True)))
    for seeds in (2, 4):
        for ratio in (0.25, 1.0, 4.0):
            for noisy in (1.0, 2.0):
                rule, alone = pooled_coverage(
                    seeds, ratio, args.draws, rng, args.variants, args.blocks, noisy
                )
                print(f"{seeds:>5} {ratio:>20.2f} {noisy:>8.0f}x {rule:>16.3f} {alone:>13.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
