"""The statistics of an ablation: paired differences, noise, verdicts in plain words.

Differences are of ln perplexity (nats per token), i.e. ratios of perplexities, paired by seed:
seed k gives both variants the same initial weights and the same stream of batch-position
random numbers (trainer/ablation.py). Two sources of noise stand between a difference and a
finding, and the verdict accounts for both (docs/ablation.md, "The verdict rule"):

* **training noise**, what another seed would change (initial weights, batch order): seen
  only through the seeds, so it is poorly known with two;
* **evaluation sampling noise**, what another evaluation text of the same kind would change:
  seen through the per-block losses of the final evaluation (blocks of ``block_tokens``
  consecutive scored tokens, trainer/perplexity.py), on which both variants are scored.

The interval of a comparison adds the two (a t-interval with the training part's degrees of
freedom: conservative, see :func:`interval`): "helps" or "hurts" when its 95% interval
excludes 0 and every seed agrees on the sign. With three or more distinct variants the
training noise is also estimated from all of them together (:func:`pooled_training_noise`,
the residual of a variants-by-seeds table), which gives the interval (V - 1)(K - 1) degrees of
freedom instead of K - 1; a comparison whose own seeds spread more than the pool keeps its own
spread. The older seed rule (every seed agrees and the
mean exceeds the spread between seeds) is kept beside it, and decides alone when a run has no
block losses (records written before they were kept). A comparison whose two variants hold
(near-)identical data is "redundant": no training difference can come from its data
(:func:`same_data`).

Every function here reads run records (``{"points": [{"step", "tokens", "eval_ppl"}, ...]}``,
one per variant and seed) and trains nothing.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

Runs = dict[str, dict[int, dict[str, Any]]]  # variant -> seed -> run record

# Beyond 10,000x the budget a straight-line extrapolation says nothing.
MAX_EXTRAPOLATION = 1e4

#: Two variants whose data differ by less than this share of the ``with`` variant's tokens
#: and of its documents (every ``share_*`` figure of the difference) hold the same data for
#: this purpose: 0.1% of the training text cannot move perplexity measurably at these budgets
#: (the smallest differences the verdicts have resolved are ~0.5%), and a step that removes
#: so little in the presence of the others is redundant in those rules.
SAME_DATA_SHARE = 1e-3

#: The confidence of the stated interval.
LEVEL = 0.95


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
    label: str,
    without: str,
    with_: str,
    runs: Runs,
    seeds: tuple[int, ...],
    difference: dict[str, Any] | None = None,
    same_data_note: str = "",
    pool: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Paired per-seed differences of eval log-perplexity and a verdict in plain words.

    The difference for seed k is ``ln ppl(with, k) - ln ppl(without, k)`` (nats per token;
    negative: ``with`` is better), i.e. a ratio of perplexities. ``difference`` is how the two
    variants' data differ (:func:`data_difference`, plus what the caller knows), kept as the
    comparison's ``unique``; when :func:`same_data` holds for it the verdict is "redundant"
    (``same_data_note`` says why in the caller's words). Otherwise, with per-block losses in
    every run, the verdict is :func:`interval`'s rule (with ``pool``, the ablation's
    :func:`pooled_training_noise`); without them, :func:`seed_verdict`'s.
    """
    final_a = [runs[without][s]["points"][-1]["eval_ppl"] for s in seeds]
    final_b = [runs[with_][s]["points"][-1]["eval_ppl"] for s in seeds]
    diffs = [math.log(pb) - math.log(pa) for pa, pb in zip(final_a, final_b, strict=True)]
    mean = sum(diffs) / len(diffs)
    noise = seed_noise(final_a, final_b)
    curve = difference_curve(without, with_, runs, seeds)
    by_seeds = seed_verdict(diffs, mean, noise, curve, len(seeds))
    same = difference is not None and same_data(difference)
    # Runs on the same data differ by their own spread alone (none when they are shared).
    blocks = interval(without, with_, runs, seeds, pool=None if same else pool)
    result: dict[str, Any] = {
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
        "seed_rule_verdict": by_seeds["verdict"],
        "interval": blocks,
    }
    if difference is not None:
        result["unique"] = difference
    if same:
        assert difference is not None
        result.update(redundant_verdict(difference, mean, same_data_note))
    elif len(seeds) < 2 or not isinstance(blocks, dict) or "interval_log_ppl" not in blocks:
        if len(seeds) >= 2 and isinstance(blocks, dict):
            by_seeds = {
                **by_seeds,
                "explanation": by_seeds["explanation"]
                + f" (seed rule: {blocks['missing']}, so no interval)",
            }
        result.update(by_seeds)
    else:
        result.update(interval_verdict(diffs, blocks, curve))
    return result


def pct(x: float) -> str:
    """A ln-ratio as a signed percentage change of perplexity."""
    return f"{100 * (math.exp(x) - 1):+.1f}%"


def seed_verdict(
    diffs: list[float], mean: float, noise: float, curve: list[dict[str, Any]], n_seeds: int
) -> dict[str, Any]:
    """The seed rule: ``verdict`` and ``explanation`` (too close to call: ``tokens_needed``).

    "helps"/"hurts" when every seed agrees on the sign and the mean difference exceeds the
    larger of the two variants' ranges of ln ppl over seeds; otherwise "too close to call",
    with the budget at which a straight-line fit of the mean difference against ln(tokens)
    along the learning curves would reach that spread (if it trends that way).
    """
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
    return {
        "verdict": "too close to call",
        "tokens_needed": needed,
        "explanation": (
            f"the mean change ({100 * (math.exp(mean) - 1):+.1f}% eval perplexity) is within "
            f"the seed spread ({100 * (math.exp(noise) - 1):.1f}%)"
            + ("" if same_sign else " and the seeds disagree on its sign")
            + " at this budget"
            + _trend(needed)
        ),
    }


#: The seed rule under its former name (callers before the interval rule).
verdict = seed_verdict


def _trend(needed: float | None) -> str:
    if needed:
        return f"; a straight-line trend in ln(tokens) reaches it near {needed:,.0f} tokens"
    return "; the learning curves show no trend toward a larger difference"


def called(diffs: list[float], lo: float, hi: float) -> str | None:
    """ "helps"/"hurts" when the interval [lo, hi] excludes 0 and every seed's difference has
    the same sign; None otherwise (the interval rule's decision, for any interval)."""
    same_sign = all(d < 0 for d in diffs) or all(d > 0 for d in diffs)
    if same_sign and (hi < 0 or lo > 0):
        return "helps" if hi < 0 else "hurts"
    return None


def interval_verdict(
    diffs: list[float], blocks: dict[str, Any], curve: list[dict[str, Any]]
) -> dict[str, Any]:
    """The interval rule: "helps"/"hurts" when the interval excludes 0 and every seed agrees.

    The explanation states the interval ("95% CI of the change: -3.1% .. -1.2%") and what it
    is made of; too close to call, the budget at which the learning curves' trend reaches the
    interval's half-width (the noise stays as measured: a rough extrapolation, said so).
    """
    lo, hi = blocks["interval_log_ppl"]
    pooled = blocks.get("pooled")
    training = (
        f"training noise from {len(diffs)} seeds"
        if not pooled
        else f"training noise pooled over {pooled['variants']} variants x {len(diffs)} seeds, "
        f"df {blocks['df']:g}"
        + ("" if pooled["used"] == "pooled" else ", this comparison's own spread being larger")
    )
    stated = (
        f"{round(100 * LEVEL)}% CI of the change: {pct(lo)} .. {pct(hi)} ({training} and "
        f"evaluation noise from {blocks['blocks']} blocks of {blocks['block_tokens']:,} tokens)"
    )
    verdict = called(diffs, lo, hi)
    if verdict:
        return {
            "verdict": verdict,
            "confidence": stated,
            "explanation": f"{stated} excludes 0 and every seed agrees",
        }
    needed = extrapolate_budget(curve, (hi - lo) / 2)
    why = "includes 0" if lo <= 0 <= hi else "excludes 0 but the seeds disagree on the sign"
    return {
        "verdict": "too close to call",
        "confidence": stated,
        "tokens_needed": needed,
        "explanation": f"{stated} {why} at this budget" + _trend(needed),
    }


def redundant_verdict(difference: dict[str, Any], mean: float, note: str) -> dict[str, Any]:
    """ "redundant": the variants' data are (near-)identical, so the step changes nothing."""
    if difference.get("identical"):
        what = "the two variants' training and validation tokens are identical"
    else:
        parts = []
        if "docs" in difference:
            parts.append(f"{difference['docs']:+,} documents")
        if "tokens" in difference:
            share = difference.get("share_of_tokens")
            parts.append(
                f"{difference['tokens']:+,} tokens"
                + (f" ({100 * share:+.3f}% of the with variant's)" if share is not None else "")
            )
        what = (
            "the two variants' data differ by "
            + ", ".join(parts)
            + f", under {100 * SAME_DATA_SHARE:.1f}%"
        )
    return {
        "verdict": "redundant",
        "explanation": (
            f"{what}: {note or 'what one variant leaves out, the other leaves out too'}; "
            f"the change measured ({pct(mean)} eval perplexity) can only be training noise"
        ),
    }


def same_data(difference: dict[str, Any]) -> bool:
    """True when two variants' data are identical, or every ``share_*`` figure of their
    difference is under :data:`SAME_DATA_SHARE` in size (at least one figure needed)."""
    if difference.get("identical"):
        return True
    shares = [v for k, v in difference.items() if k.startswith("share_") and v is not None]
    return bool(shares) and all(abs(v) < SAME_DATA_SHARE for v in shares)


def data_difference(without: dict[str, Any], with_: dict[str, Any]) -> dict[str, Any]:
    """What ``without``'s data hold beyond ``with``'s, from the two shard directories alone.

    ``without``/``with_`` are a variant's data identity (trainer/ablation.py's
    ``check_variants``: ``manifest``, ``train_sha256``, ``val_sha256``). Documents and tokens
    count train and validation together (positive: ``with`` has fewer), shares are of the
    ``with`` variant's. The trainer knows no documents, only shards: net counts, not which
    documents; a caller that knows them adds its own figures (corpusclean ablate: by id).
    """
    mo, mw = without["manifest"], with_["manifest"]
    out: dict[str, Any] = {}
    tokens_o = (mo.get("train_tokens") or 0) + (mo.get("val_tokens") or 0)
    tokens_w = (mw.get("train_tokens") or 0) + (mw.get("val_tokens") or 0)
    if mo.get("train_docs") is not None and mw.get("train_docs") is not None:
        docs_o = mo["train_docs"] + (mo.get("val_docs") or 0)
        docs_w = mw["train_docs"] + (mw.get("val_docs") or 0)
        out["docs"] = docs_o - docs_w
        out["share_of_docs"] = (docs_o - docs_w) / max(1, docs_w)
    out["tokens"] = tokens_o - tokens_w
    out["share_of_tokens"] = (tokens_o - tokens_w) / max(1, tokens_w)
    out["identical"] = (
        without.get("train_sha256") is not None
        and without.get("train_sha256") == with_.get("train_sha256")
        and without.get("val_sha256") == with_.get("val_sha256")
    )
    return out


# -- the interval: training noise from the seeds, evaluation noise from the blocks ------------


def final_blocks(record: dict[str, Any], text: str = "eval") -> dict[str, Any] | None:
    """The final evaluation's per-block losses of ``text`` in a run record, if it has them."""
    blocks = record["points"][-1].get("blocks")
    if not isinstance(blocks, dict) or not isinstance(blocks.get(text), dict):
        return None
    return blocks[text]


def block_differences(
    without: str, with_: str, runs: Runs, seeds: tuple[int, ...], text: str = "eval"
) -> tuple[np.ndarray, np.ndarray] | str:
    """``(d [seeds, blocks] of nll_with - nll_without, tokens per block)``, or why not.

    Paired by seed and by block: both variants were scored on the same tokens. A run without
    blocks (a record kept from before they were recorded) or with other blocks than the rest
    (another block size or evaluation length) gives the reason as a string.
    """
    rows = []
    counts: list[int] | None = None
    for s in seeds:
        pair = []
        for name in (without, with_):
            b = final_blocks(runs[name][s], text)
            if b is None:
                return f"{name} seed {s} has no per-block losses (a run recorded before them)"
            if counts is None:
                counts = list(b["counts"])
            if list(b["counts"]) != counts:
                return f"{name} seed {s} was scored in other blocks than the rest"
            pair.append(np.asarray(b["nll"], dtype=np.float64))
        rows.append(pair[1] - pair[0])
    assert counts is not None
    if len(counts) < 2:
        return "the evaluation text gives fewer than 2 blocks"
    return np.stack(rows), np.asarray(counts, dtype=np.float64)


def interval(
    without: str,
    with_: str,
    runs: Runs,
    seeds: tuple[int, ...],
    level: float = LEVEL,
    pool: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The change's interval from per-block losses and seeds (``{"missing": why}`` without).

    With ``d[k, b]`` the paired difference of seed k on block b and ``w_b`` block b's share of
    the scored tokens, the estimate is ``D = mean_k sum_b w_b d[k, b]`` (the mean paired
    difference of ln ppl, exactly). Its variance has two parts:

    * evaluation sampling, ``V_e = B/(B-1) sum_b w_b^2 (D_b - D)^2`` with ``D_b = mean_k
      d[k, b]``: the variance of a token-weighted mean over B blocks treated as independent
      draws of text (the same text for every seed, so this error is common to all seeds);
    * training, ``V_t = var_k(d_k) / K``: the spread of the per-seed differences (what the
      common evaluation error cannot explain), K - 1 degrees of freedom.

    The interval is ``D ± t(df) sqrt(V_e + V_t)`` with the conservative degrees of freedom
    ``df = min(K - 1, B - 1)`` (Hsu 1938; the smaller of the parts' df, which is the lower
    bound of Welch-Satterthwaite's), so K - 1 whenever there are seeds to pool. The
    Welch-Satterthwaite df, kept as ``welch_df`` for the reader, weights the parts by their
    *estimated* variances: two seeds that agree by chance give a small V_t and a large df, and
    its 95% interval then held 0 in only 87% of simulated A/A pairs with training noise 4x the
    evaluation noise (``benchmarks/interval_coverage.py``); with ``min`` it holds 0 in 97-100%
    at every ratio simulated. The price is width with few seeds (t(1) = 12.7 with two): more
    seeds, not a looser rule, is the remedy. Also given: the interval of evaluation noise alone
    and each seed's own, for the reader.

    With ``pool`` (:func:`pooled_training_noise` of the ablation's variants, when its df
    exceed K - 1), the training part is ``V_t = max(var_k(d_k) / K, 2 s^2 / K)`` with ``s^2``
    the pooled variance of one run's seed-by-variant residual, and ``df = min(pool df, B -
    1)``: the standard analysis of a randomised block design (seeds are the blocks; Fisher
    1935), which assumes every variant's runs are equally noisy. Where this comparison's own
    seeds spread more than the pool says, its own spread is kept (``used: "own"``), so one
    unusually noisy variant does not borrow the others' calm. The simulated coverage of both
    rules is in ``benchmarks/interval_coverage.py``.
    """
    got = block_differences(without, with_, runs, seeds)
    if isinstance(got, str):
        return {"missing": got}
    d, counts = got
    w = counts / counts.sum()
    per_seed = d @ w  # = each seed's ln ppl difference, up to rounding
    k, blocks = d.shape
    mean = float(per_seed.mean())
    db = d.mean(axis=0)
    v_eval = float(blocks / (blocks - 1) * np.sum(w**2 * (db - mean) ** 2))
    v_own = float(per_seed.var(ddof=1) / k) if k > 1 else 0.0
    welch_df = satterthwaite([(v_own, k - 1), (v_eval, blocks - 1)])
    df = float(min(k - 1, blocks - 1)) if k > 1 else float(blocks - 1)
    v_train = v_own
    pooled: dict[str, Any] | None = None
    if pool is not None and k > 1 and pool["df"] > k - 1:
        v_pool = 2 * pool["variance"] / k
        v_train = max(v_own, v_pool)
        df = float(min(pool["df"], blocks - 1))
        pooled = {
            "variants": pool["variants"],
            "df": pool["df"],
            "training_se": math.sqrt(v_pool),
            "own_training_se": math.sqrt(v_own),
            "used": "pooled" if v_pool >= v_own else "own",
        }
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(v_train + v_eval)
    half_eval = t_quantile(0.5 + level / 2, blocks - 1) * math.sqrt(v_eval)
    seed_half = [
        t_quantile(0.5 + level / 2, blocks - 1)
        * math.sqrt(float(blocks / (blocks - 1) * np.sum(w**2 * (row - row @ w) ** 2)))
        for row in d
    ]
    return {
        "level": level,
        "blocks": blocks,
        "block_tokens": int(counts[0]),
        "mean_log_ppl_diff": mean,
        "training_se": math.sqrt(v_train),
        "eval_se": math.sqrt(v_eval),
        "df": df,
        "welch_df": welch_df,
        **({"pooled": pooled} if pooled else {}),
        "interval_log_ppl": [mean - half, mean + half],
        "interval_ppl_change": [math.exp(mean - half) - 1, math.exp(mean + half) - 1],
        "eval_only_interval_ppl_change": [
            math.exp(mean - half_eval) - 1,
            math.exp(mean + half_eval) - 1,
        ],
        "per_seed_interval_ppl_change": [
            [math.exp(float(m) - h) - 1, math.exp(float(m) + h) - 1]
            for m, h in zip(per_seed, seed_half, strict=True)
        ],
    }


def pooled_training_noise(
    runs: Runs, seeds: tuple[int, ...], variants: list[str]
) -> dict[str, Any] | None:
    """The seed-by-variant variance of one run, pooled over an ablation's distinct variants.

    With ``y[v, k]`` the final ln ppl of variant v and seed k (on the evaluation text, the
    same for every run, so evaluation sampling is not in it), the two-way residual
    ``r = y - ȳ[v, .] - ȳ[., k] + ȳ`` removes what a variant does on every seed and what a seed
    does to every variant (the shared initialisation and batch order); ``s^2 = sum r^2 / ((V -
    1)(K - 1))`` is then one run's training noise, and the difference of two variants has
    variance ``2 s^2`` per seed. A variant whose runs are another's (``same_as``) or whose
    ppl equal an earlier variant's on every seed is the same runs and counted once (a copy
    would add degrees of freedom with no information). ``{"variance", "df", "variants":
    count, "names"}``, or None with fewer than 2 seeds or 3 distinct variants (two variants
    pool to the comparison's own spread).
    """
    k = len(seeds)
    rows: list[list[float]] = []
    names: list[str] = []
    for name in variants:
        if any(runs[name][s].get("same_as") for s in seeds):
            continue
        row = [math.log(runs[name][s]["points"][-1]["eval_ppl"]) for s in seeds]
        if row in rows:
            continue
        rows.append(row)
        names.append(name)
    if k < 2 or len(rows) < 3:
        return None
    y = np.asarray(rows, dtype=np.float64)
    r = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    df = (len(rows) - 1) * (k - 1)
    return {
        "variance": float(np.sum(r**2) / df),
        "df": df,
        "variants": len(rows),
        "names": names,
    }


def satterthwaite(parts: list[tuple[float, int]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variance estimates (var, df)."""
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / df for v, df in parts if df > 0 and v > 0)
    if total <= 0 or denominator <= 0:
        return math.inf
    return total * total / denominator


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` (> 0, may be fractional or inf) degrees.

    No SciPy in the trainer's dependencies: with t = sqrt(df) tan(theta) the density becomes
    ``c cos(theta)^(df - 1)`` on [0, pi/2), smooth and bounded for df >= 1, so a fine
    trapezoid table of its integral and an interpolation give the quantile to ~1e-7 (checked
    against tables in tests/test_ablation_stats.py). Cached: an ablation asks for few df.
    """
    from statistics import NormalDist

    if not 0 < p < 1:
        raise ValueError(f"quantile {p} outside (0, 1)")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    if math.isinf(df) or df > 1e7:
        return NormalDist().inv_cdf(p)
    theta = np.linspace(0.0, math.pi / 2, 200_001)[:-1]
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(math.pi)
    density = c * np.cos(theta) ** (df - 1)
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(theta))])
    return math.sqrt(df) * math.tan(float(np.interp(p - 0.5, cdf, theta)))


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
