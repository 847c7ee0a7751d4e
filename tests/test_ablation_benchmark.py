"""The repeatability benchmark's own arithmetic (benchmarks/ablation_real.py): the A/A pair
judged with the ablation's pooled training noise, the own-seeds rule it is shown beside, and
the seeds a target interval needs."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ablation_real import judge_aa, own_seeds_verdict, seeds_needed  # noqa: E402

from trainer.ablation_stats import compare, pooled_training_noise, t_quantile  # noqa: E402

COUNTS = [512] * 16


def _result(table: dict[str, list[float]], seeds: tuple[int, ...], rng: np.random.Generator):
    """An ablation.json-shaped result: variant v's seed k scores ``table[v][k]`` +- block noise
    (the same block noise for every run: a shared evaluation text)."""
    shape = rng.normal(0, 0.05, len(COUNTS))
    shape -= shape.mean()
    variants = {}
    for name, row in table.items():
        runs = {}
        for seed, y in zip(seeds, row, strict=True):
            nll = (y + shape).tolist()
            point = {
                "step": 1,
                "tokens": 1000,
                "eval_ppl": math.exp(float(np.mean(nll))),
                "blocks": {"eval": {"nll": nll, "counts": COUNTS}},
            }
            runs[str(seed)] = {"points": [{"step": 0, "tokens": 0, "eval_ppl": 1e3}, point]}
        variants[name] = {"runs": runs}
    return {"seeds": list(seeds), "init_sha256": {str(s): f"init{s}" for s in seeds},
            "variants": variants}  # fmt: skip


def test_aa_is_judged_with_the_ablations_pool_and_seeds_needed_is_the_smallest() -> None:
    rng = np.random.default_rng(5)
    seeds = (1, 2)
    main = _result({"raw": [3.00, 3.04], "clean": [3.02, 3.01], "-s": [2.99, 3.05]}, seeds, rng)
    aa = _result({"A": [3.01, 3.03], "B": [3.03, 3.02]}, seeds, rng)
    aa["comparisons"] = [{"label": "B vs A", "without": "A", "with": "B", "verdict": "x"}]
    judged = judge_aa(aa, main)["comparisons"][0]
    # Five distinct variants x 2 seeds: 4 df, not the pair's own 1.
    assert judged["interval"]["df"] == 4.0 and judged["interval"]["pooled"]["variants"] == 5
    assert judged["unpooled_verdict"] == "x"
    # Runs that do not share seeds and initialisations cannot be pooled.
    other = {**aa, "init_sha256": {"1": "other", "2": "init2"}}
    with pytest.raises(SystemExit):
        judge_aa(other, main)

    # seeds_needed: the smallest K whose pooled half-width reaches the target.
    variants = {
        name: {int(s): r for s, r in v["runs"].items()} for name, v in main["variants"].items()
    }
    pool = pooled_training_noise(variants, seeds, list(variants))
    assert pool is not None
    c = compare("s", "clean", "-s", variants, seeds, pool=pool)
    result = {"pooled_training_noise": pool, "comparisons": [c]}
    k = seeds_needed(result, 0.02)
    assert k is not None and k > 2

    def half(n: int) -> float:
        t = t_quantile(0.975, (pool["variants"] - 1) * (n - 1))
        return t * math.sqrt(2 * pool["variance"] / n + c["interval"]["eval_se"] ** 2)

    assert half(k) <= math.log1p(0.02) < half(k - 1)
    assert seeds_needed({"comparisons": [c]}, 0.02) is None  # no pool, no answer


def test_own_seeds_rule_is_the_unpooled_interval() -> None:
    # Two seeds that agree closely: the pool (4 variants) may call it, the seeds' own 1 df
    # cannot; own_seeds_verdict must give what interval() gives without a pool.
    rng = np.random.default_rng(9)
    seeds = (1, 2)
    table = {"a": [3.0, 3.1], "b": [2.88, 3.0], "c": [3.05, 3.15], "d": [3.0, 3.1]}
    main = _result(table, seeds, rng)
    runs = {n: {int(s): r for s, r in v["runs"].items()} for n, v in main["variants"].items()}
    pool = pooled_training_noise(runs, seeds, list(runs))
    pooled = compare("b vs a", "a", "b", runs, seeds, pool=pool)
    alone = compare("b vs a", "a", "b", runs, seeds)
    assert pooled["verdict"] == "helps" and alone["verdict"] == "too close to call"
    assert own_seeds_verdict(pooled) == alone["verdict"]
