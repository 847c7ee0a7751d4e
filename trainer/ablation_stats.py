"""The statistics of an ablation: paired differences, seed spread, verdicts in plain words.

An ablation at laptop scale trains few seeds, so its verdicts are deliberately conservative:
a variant "helps" or "hurts" only when every paired seed agrees on the sign of the change and
its mean exceeds the spread between seeds; anything less is "too close to call", with the
budget at which the learning curves' trend would separate the variants, if they trend that
way. Differences are of ln perplexity (nats per token), i.e. ratios of perplexities, paired by
seed: seed k gives both variants the same initial weights and the same stream of batch-position
random numbers (trainer/ablation.py).

Every function here reads run records (``{"points": [{"step", "tokens", "eval_ppl"}, ...]}``,
one per variant and seed) and trains nothing.
"""

from __future__ import annotations

import math
from typing import Any

Runs = dict[str, dict[int, dict[str, Any]]]  # variant -> seed -> run record

# Beyond 10,000x the budget a straight-line extrapolation says nothing.
MAX_EXTRAPOLATION = 1e4


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))


def seed_noise(final_a: list[float], final_b: list[float]) -> float:
    """Seed noise: the larger of the two variants' ranges of ln ppl over seeds."""
    return max(
        max(map(math.log, final_a)) - min(map(math.log, final_a)),
        max(map(math.log, final_b)) - min(map(math.log, final_b)),
    )


def difference_curve(
    without: str, with_: str, runs: Runs, seeds: tuple[int, ...]
) -> list[dict[str, Any]]:
    """The mean paired difference along the learning curve (steps every run shares)."""
    steps = [p["step"] for p in runs[without][seeds[0]]["points"] if p["step"] > 0]
    curve = []
    for i, step in enumerate(steps, start=1):
        d = [
            math.log(runs[with_][s]["points"][i]["eval_ppl"])
            - math.log(runs[without][s]["points"][i]["eval_ppl"])
            for s in seeds
        ]
        curve.append(
            {
                "step": step,
                "tokens": runs[without][seeds[0]]["points"][i]["tokens"],
                "mean_log_ppl_diff": sum(d) / len(d),
            }
        )
    return curve


def compare(
    label: str, without: str, with_: str, runs: Runs, seeds: tuple[int, ...]
) -> dict[str, Any]:
    """Paired per-seed differences of eval log-perplexity and a verdict in plain words.

    The difference for seed k is ``ln ppl(with, k) - ln ppl(without, k)`` (nats per token;
    negative: ``with`` is better), i.e. a ratio of perplexities. Seed noise is the larger of
    the two variants' ranges of ln ppl over seeds. A verdict of "helps" or "hurts" needs every
    seed to agree on the sign and the mean difference to exceed that noise; anything less is
    "too close to call", with the budget at which a straight-line fit of the mean difference
    against ln(tokens) along the learning curves would reach the noise (if it trends that way).
    """
    final_a = [runs[without][s]["points"][-1]["eval_ppl"] for s in seeds]
    final_b = [runs[with_][s]["points"][-1]["eval_ppl"] for s in seeds]
    diffs = [math.log(pb) - math.log(pa) for pa, pb in zip(final_a, final_b, strict=True)]
    mean = sum(diffs) / len(diffs)
    noise = seed_noise(final_a, final_b)
    curve = difference_curve(without, with_, runs, seeds)
    return {
        "label": label,
        "without": without,
        "with": with_,
        "per_seed_log_ppl_diff": diffs,
        "per_seed_ppl_change": [math.exp(d) - 1 for d in diffs],
        "mean_log_ppl_diff": mean,
        "min_log_ppl_diff": min(diffs),
        "max_log_ppl_diff": max(diffs),
        "mean_ppl_change": math.exp(mean) - 1,
        "seed_noise_log_ppl": noise,
        "curve": curve,
        **verdict(diffs, mean, noise, curve, len(seeds)),
    }


def verdict(
    diffs: list[float], mean: float, noise: float, curve: list[dict[str, Any]], n_seeds: int
) -> dict[str, Any]:
    """``verdict`` and ``explanation`` (and, too close to call, ``tokens_needed``)."""
    same_sign = all(d < 0 for d in diffs) or all(d > 0 for d in diffs)
    if n_seeds < 2:
        return {
            "verdict": "untested",
            "explanation": "one seed gives no estimate of seed noise; run with --seeds 2 or more",
        }
    if same_sign and abs(mean) > noise:
        return {
            "verdict": "helps" if mean < 0 else "hurts",
            "explanation": (
                f"every seed agrees and the mean change ({100 * (math.exp(mean) - 1):+.1f}% "
                f"eval perplexity) exceeds the seed spread ({100 * (math.exp(noise) - 1):.1f}%)"
            ),
        }
    needed = extrapolate_budget(curve, noise)
    tail = (
        f"; a straight-line trend in ln(tokens) reaches it near {needed:,.0f} tokens"
        if needed
        else "; the learning curves show no trend toward a larger difference"
    )
    return {
        "verdict": "too close to call",
        "tokens_needed": needed,
        "explanation": (
            f"the mean change ({100 * (math.exp(mean) - 1):+.1f}% eval perplexity) is within "
            f"the seed spread ({100 * (math.exp(noise) - 1):.1f}%)"
            + ("" if same_sign else " and the seeds disagree on its sign")
            + " at this budget"
            + tail
        ),
    }


def extrapolate_budget(curve: list[dict[str, Any]], noise: float) -> float | None:
    """Tokens at which a least-squares line d = a + b ln(t) through the curve reaches ±noise.

    None when there are fewer than two points, the trend is flat or it heads toward zero
    (then more tokens would not separate the variants by this simple model).
    """
    points = [(math.log(p["tokens"]), p["mean_log_ppl_diff"]) for p in curve if p["tokens"] > 0]
    if len(points) < 2 or noise <= 0:
        return None
    xs, ys = zip(*points, strict=True)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    last_x, last_y = xs[-1], intercept + slope * xs[-1]
    if slope == 0 or (last_y != 0 and (slope > 0) != (last_y > 0)):
        return None
    target = noise if slope > 0 else -noise
    x = (target - intercept) / slope
    if x <= last_x or x > last_x + math.log(MAX_EXTRAPOLATION):
        return None
    return math.exp(x)
