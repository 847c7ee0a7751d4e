"""The verdict statistics on hand-made run records: the interval that adds training noise (seeds)
to evaluation noise (per-block losses), its fallback for records without blocks, the
"redundant" verdict for (near-)identical data, Student's t, and the A/A split of shards."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.ablation_split import document_halves, split_shards
from trainer.ablation_stats import (
    compare,
    data_difference,
    interval,
    pooled_training_noise,
    same_data,
    satterthwaite,
    t_quantile,
)
from trainer.data import open_shards

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from interval_coverage import coverage, pooled_coverage  # noqa: E402  (benchmarks/ is not a package)

BASE = 3.0  # the "without" variant's NLL on every block


def _record(block_nll: list[float], counts: list[int], blocks: bool = True) -> dict:
    """A finished run whose final point has ``eval_ppl`` = exp(token-weighted mean NLL), and
    its per-block losses unless ``blocks`` is False (a record from before they were kept)."""
    mean = float(np.average(block_nll, weights=counts))
    final: dict = {"step": 2, "tokens": 2000, "eval_ppl": math.exp(mean)}
    if blocks:
        final["blocks"] = {"tokens": counts[0], "eval": {"nll": block_nll, "counts": counts}}
    points = [
        {"step": 0, "tokens": 0, "eval_ppl": 1000.0},
        {"step": 1, "tokens": 1000, "eval_ppl": final["eval_ppl"] * 1.5},
        final,
    ]
    return {"points": points}


def _runs(diffs: list[list[float]], counts: list[int], blocks: bool = True) -> dict:
    """Variant "a" at NLL BASE everywhere, "b" at BASE + diffs[seed][block]."""
    runs: dict[str, dict[int, dict]] = {"a": {}, "b": {}}
    for seed, row in enumerate(diffs, start=1):
        runs["a"][seed] = _record([BASE] * len(row), counts, blocks)
        runs["b"][seed] = _record([BASE + d for d in row], counts, blocks)
    return runs


def test_interval_known_answer() -> None:
    # Seed 1 changes the blocks by -0.1, -0.3, -0.1, -0.3 (mean -0.2), seed 2 by 0, -0.2, 0,
    # -0.2 (mean -0.1); four equal blocks. By hand: D = -0.15; block means D_b = -0.05, -0.25,
    # -0.05, -0.25, so V_e = 4/3 * 4 * (1/4)^2 * 0.1^2 = 1/300; V_t = var(-0.2, -0.1) / 2 =
    # 0.005 / 2 = 1/400. The rule's df is min(K - 1, B - 1) = 1; Welch-Satterthwaite's, kept
    # for the reader, (1/300 + 1/400)^2 / ((1/400)^2 / 1 + (1/300)^2 / 3).
    runs = _runs([[-0.1, -0.3, -0.1, -0.3], [0.0, -0.2, 0.0, -0.2]], [100] * 4)
    iv = interval("a", "b", runs, (1, 2))
    v_e, v_t = 1 / 300, 1 / 400
    welch_df = (v_e + v_t) ** 2 / (v_t**2 / 1 + v_e**2 / 3)
    assert math.isclose(iv["mean_log_ppl_diff"], -0.15, abs_tol=1e-12)
    assert math.isclose(iv["eval_se"] ** 2, v_e, rel_tol=1e-9)
    assert math.isclose(iv["training_se"] ** 2, v_t, rel_tol=1e-9)
    assert iv["df"] == 1.0
    assert math.isclose(iv["welch_df"], welch_df, rel_tol=1e-9)
    half = t_quantile(0.975, 1) * math.sqrt(v_e + v_t)
    assert iv["interval_log_ppl"] == pytest.approx([-0.15 - half, -0.15 + half], abs=1e-12)
    assert iv["blocks"] == 4 and iv["block_tokens"] == 100
    # The interval includes 0, though both seeds say "better": too close to call, stated.
    c = compare("step", "a", "b", runs, (1, 2))
    assert c["verdict"] == "too close to call"
    assert "95% CI of the change: " in c["explanation"] and "includes 0" in c["explanation"]
    assert c["interval"]["interval_ppl_change"][0] < 0 < c["interval"]["interval_ppl_change"][1]
    # The point estimate is the mean paired difference of ln ppl, exactly.
    assert math.isclose(c["mean_log_ppl_diff"], iv["mean_log_ppl_diff"], abs_tol=1e-12)


def test_weighted_blocks_and_a_clear_finding() -> None:
    # The last block holds the remainder (twice the tokens): weights 1/4, 1/4, 1/2.
    counts = [100, 100, 200]
    runs = _runs([[-0.10, -0.12, -0.11], [-0.11, -0.10, -0.12]], counts)
    iv = interval("a", "b", runs, (1, 2))
    w = np.array(counts) / 400
    per_seed = [float(np.dot(w, r)) for r in ([-0.10, -0.12, -0.11], [-0.11, -0.10, -0.12])]
    assert math.isclose(iv["mean_log_ppl_diff"], sum(per_seed) / 2, abs_tol=1e-12)
    c = compare("step", "a", "b", runs, (1, 2))
    assert c["verdict"] == "helps"
    lo, hi = c["interval"]["interval_ppl_change"]
    assert lo < hi < 0
    assert c["confidence"].startswith(f"95% CI of the change: {100 * lo:+.1f}% .. {100 * hi:+.1f}%")
    hurts = compare("step", "b", "a", runs, (1, 2))  # the other way round
    assert hurts["verdict"] == "hurts"
    # The seed rule's figures and verdict stay beside the interval's.
    assert c["seed_rule_verdict"] in ("helps", "too close to call")
    assert c["seed_noise_log_ppl"] > 0


def test_seeds_that_disagree_are_never_a_finding() -> None:
    # Each seed is far from 0, in opposite directions: the interval is wide (and even if it
    # were not, the seeds disagree).
    runs = _runs([[-0.2, -0.2, -0.21, -0.19], [0.05, 0.06, 0.05, 0.04]], [100] * 4)
    c = compare("step", "a", "b", runs, (1, 2))
    assert c["verdict"] == "too close to call"


def test_records_without_blocks_fall_back_to_the_seed_rule() -> None:
    counts = [100] * 4
    old = _runs([[-0.2] * 4, [-0.21] * 4], counts, blocks=False)
    old["a"][2]["points"][-1]["eval_ppl"] = math.exp(BASE + 0.01)  # some seed spread
    c = compare("step", "a", "b", old, (1, 2))
    assert "missing" in c["interval"] and "no per-block losses" in c["interval"]["missing"]
    assert c["verdict"] == c["seed_rule_verdict"] == "helps"
    assert "seed rule:" in c["explanation"] and "so no interval" in c["explanation"]
    # One run with blocks and its partner without: still the seed rule, no crash.
    mixed = _runs([[-0.2] * 4, [-0.21] * 4], counts)
    mixed["b"][2]["points"][-1].pop("blocks")
    assert "missing" in compare("step", "a", "b", mixed, (1, 2))["interval"]
    # Blocks of another size in one run: not paired, so not used.
    other = _runs([[-0.2] * 4, [-0.21] * 4], counts)
    other["b"][1]["points"][-1]["blocks"]["eval"]["counts"] = [200, 200]
    other["b"][1]["points"][-1]["blocks"]["eval"]["nll"] = [2.8, 2.8]
    assert "other blocks" in compare("step", "a", "b", other, (1, 2))["interval"]["missing"]
    # One seed: untested, as before.
    one = compare("step", "a", "b", _runs([[-0.2] * 4], counts), (1,))
    assert one["verdict"] == "untested"


def _identity(train: int, val: int, docs: int, sha: str = "x") -> dict:
    manifest = {"train_tokens": train, "val_tokens": val, "train_docs": docs, "val_docs": 1}
    return {"manifest": manifest, "train_sha256": sha, "val_sha256": "v"}


def test_identical_data_is_redundant_whatever_the_perplexities_say() -> None:
    runs = _runs([[-0.10, -0.12, -0.11], [-0.11, -0.10, -0.12]], [100] * 3)
    same = data_difference(_identity(1000, 50, 10), _identity(1000, 50, 10))
    assert same == {
        "docs": 0, "share_of_docs": 0.0, "tokens": 0, "share_of_tokens": 0.0, "identical": True,
    }  # fmt: skip
    c = compare("exact_dedup", "a", "b", runs, (1, 2), same, "what it removes others remove")
    assert c["verdict"] == "redundant" and c["unique"] == same
    assert "identical" in c["explanation"] and "what it removes others remove" in c["explanation"]
    assert c["seed_rule_verdict"] != "redundant"  # the statistics are still there, beside
    # Near-identical: under 0.1% of the tokens and of the documents.
    near = data_difference(_identity(100_050, 50, 10_005, "y"), _identity(100_000, 50, 10_000))
    assert not near["identical"] and same_data(near)
    assert compare("s", "a", "b", runs, (1, 2), near)["verdict"] == "redundant"
    # 0.2% of the tokens is a difference: the interval decides.
    apart = data_difference(_identity(100_250, 50, 10_000, "y"), _identity(100_000, 50, 10_000))
    assert not same_data(apart)
    assert compare("s", "a", "b", runs, (1, 2), apart)["verdict"] == "helps"
    # Equal counts but swapped documents (a caller's by-id figure) are no redundancy.
    assert not same_data({**near, "share_of_docs_by_id": 0.3})
    assert not same_data({"identical": False})  # no figure at all: nothing to go on


def test_t_quantile_and_satterthwaite() -> None:
    # Table values of Student's t (two-sided 95%) and the normal limit.
    for df, expected in ((1, 12.7062), (2, 4.3027), (3, 3.1824), (10, 2.2281), (30, 2.0423)):
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959964, abs=1e-6)
    assert t_quantile(0.025, 10) == pytest.approx(-2.2281, abs=1e-4)
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1.0, 1.7, 3.42, 12.5, 250.0):
        for p in (0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-6)
    assert satterthwaite([(1.0, 1), (0.0, 40)]) == pytest.approx(1.0)
    assert satterthwaite([(0.0, 1), (1.0, 40)]) == pytest.approx(40.0)
    assert satterthwaite([(0.0, 1), (0.0, 40)]) == math.inf


# -- the A/A split ---------------------------------------------------------------------------


def _shards(root: Path, docs: list[list[int]]) -> Path:
    tokens = root / "tokens"
    tokens.mkdir(parents=True)
    train = np.array([t for d in docs for t in (*d, 0)], dtype=np.uint16)
    train.tofile(tokens / "train.bin")
    np.array([7, 8, 0], dtype=np.uint16).tofile(tokens / "val.bin")
    manifest = {
        "tokenizer": "test", "vocab_size": 100, "dtype": "uint16", "eos_id": 0,
        "train_tokens": len(train), "val_tokens": 3, "train_docs": len(docs), "val_docs": 1,
    }  # fmt: skip
    (tokens / "manifest.json").write_text(json.dumps(manifest))
    (root / "tokenizer.json").write_text("{}")
    return tokens


def _documents(train: np.ndarray) -> list[tuple[int, ...]]:
    ends = np.flatnonzero(train == 0)
    return [tuple(int(x) for x in d) for d in np.split(train, ends + 1) if len(d)]


def test_aa_split_keeps_every_document_whole_in_one_half(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    docs = [list(rng.integers(1, 100, size=int(rng.integers(1, 9)))) for _ in range(101)]
    source = _shards(tmp_path / "src", docs)
    result = split_shards(source, tmp_path / "A", tmp_path / "B", seed=5)
    halves = [open_shards(tmp_path / side / "tokens") for side in ("A", "B")]
    got = [_documents(np.asarray(h.train)) for h in halves]
    want = [tuple(int(t) for t in (*d, 0)) for d in docs]
    assert sorted(got[0] + got[1]) == sorted(want)  # every document, once, whole
    assert (len(got[0]), len(got[1])) == (50, 51) and result["docs"] == 101
    for h, g in zip(halves, got, strict=True):
        assert h.manifest.train_docs == len(g) and h.manifest.train_tokens == len(h.train)
        assert np.array_equal(np.asarray(h.val), [7, 8, 0])  # the held-out slice is shared
        assert (h.root.parent / "tokenizer.json").read_text() == "{}"
    # Documents keep their order within a half; the split is seeded.
    order = {d: i for i, d in enumerate(want)}
    assert [order[d] for d in got[0]] == sorted(order[d] for d in got[0])
    same, _ = document_halves(np.asarray(open_shards(source).train), 0, seed=5)
    other, _ = document_halves(np.asarray(open_shards(source).train), 0, seed=6)
    again, _ = document_halves(np.asarray(open_shards(source).train), 0, seed=5)
    assert np.array_equal(same, again) and not np.array_equal(same, other)


def test_interval_covers_simulated_aa_pairs_when_training_noise_dominates() -> None:
    # Two seeds, training noise 4x the evaluation noise of the mean, no true difference: the
    # Welch-Satterthwaite df held 0 in ~87% of such draws (benchmarks/interval_coverage.py),
    # i.e. 13% false findings; the rule's K - 1 df must hold it in at least 95% (~98%).
    rule, welch = coverage(seeds=2, ratio=4.0, draws=300, rng=np.random.default_rng(7))
    assert rule >= 0.95
    assert welch < 0.92  # the old rule's failure is real in this simulation


def _flat_runs(table: dict[str, list[float]], counts: list[int]) -> dict:
    """Variants whose seed k scores ln ppl ``table[v][k]`` on every block."""
    return {
        name: {k: _record([y] * len(counts), counts) for k, y in enumerate(row, start=1)}
        for name, row in table.items()
    }


def test_pooled_training_noise_known_answer_and_its_interval() -> None:
    # y = ln ppl: v0 [1.0, 1.2], v1 [1.1, 1.1], v2 [0.9, 1.3]. Variant means are all 1.1, seed
    # means 1.0 and 1.2, so the residuals are v0 (0, 0), v1 (+0.1, -0.1), v2 (-0.1, +0.1):
    # s^2 = 0.04 / ((3 - 1)(2 - 1)) = 0.02 with 2 df.
    table = {"v0": [1.0, 1.2], "v1": [1.1, 1.1], "v2": [0.9, 1.3]}
    runs = _flat_runs(table, [100] * 8)
    pool = pooled_training_noise(runs, (1, 2), list(runs))
    assert pool is not None
    assert math.isclose(pool["variance"], 0.02, rel_tol=1e-9)
    assert (pool["df"], pool["variants"]) == (2, 3)
    # v1 vs v0: per-seed differences +0.1, -0.1, own V_t = 0.02 / 2 = 0.01; pooled 2 s^2 / K
    # = 0.02 is larger and is used, with the pool's 2 df (not the seeds' 1).
    iv = interval("v0", "v1", runs, (1, 2), pool=pool)
    assert math.isclose(iv["training_se"] ** 2, 0.02, rel_tol=1e-9)
    assert iv["df"] == 2.0 and iv["pooled"]["used"] == "pooled"
    assert math.isclose(iv["pooled"]["own_training_se"] ** 2, 0.01, rel_tol=1e-9)
    half = t_quantile(0.975, 2) * math.sqrt(0.02)
    assert iv["interval_log_ppl"] == pytest.approx([-half, half], abs=1e-9)
    # A comparison whose own seeds spread more than the pool keeps its own spread.
    wide = {**table, "v3": [0.7, 1.5]}
    runs = _flat_runs(wide, [100] * 8)
    pool = pooled_training_noise(runs, (1, 2), list(runs))
    iv = interval("v0", "v3", runs, (1, 2), pool=pool)
    assert iv["pooled"]["used"] == "own"
    assert math.isclose(iv["training_se"], iv["pooled"]["own_training_se"])
    # Two variants pool to nothing new; a shared run or a copy of a variant counts once.
    assert (
        pooled_training_noise(_flat_runs({"a": [1, 2], "b": [2, 1]}, [1, 1]), (1, 2), ["a", "b"])
        is None
    )
    runs = _flat_runs({**table, "copy": table["v2"]}, [100] * 8)
    assert pooled_training_noise(runs, (1, 2), list(runs)) == pool_of_table(table)
    runs["shared"] = {k: {**r, "same_as": "v0"} for k, r in runs["v1"].items()}
    assert pooled_training_noise(runs, (1, 2), list(runs)) == pool_of_table(table)


def pool_of_table(table: dict[str, list[float]]) -> dict | None:
    runs = _flat_runs(table, [100] * 8)
    return pooled_training_noise(runs, (1, 2), list(runs))


def test_pooled_interval_covers_simulated_null_variants_and_is_narrower() -> None:
    # Five variants with no true difference, two seeds, training noise 4x evaluation noise,
    # every variant equally noisy: the pooled rule's interval (4 df instead of 1) still holds
    # 0 in >= 95% of draws (97% here). Forgetting that a difference of two runs has twice one
    # run's variance brings it to 93% (the pooled estimate alone to 90%): checked.
    rule, alone = pooled_coverage(2, 4.0, 300, np.random.default_rng(11))
    assert rule >= 0.95 and alone >= 0.94
    # ... and it is what makes a real difference callable with two seeds: the same draw's
    # interval with pooling is several times narrower than with the seeds' own 1 df.
    rng = np.random.default_rng(3)
    nll = 3.0 + rng.normal(0, 0.02, (5, 2, 1)) + rng.normal(0, 0.05, (5, 1, 16))
    counts = [100] * 16
    runs = {
        f"v{v}": {k + 1: _record(nll[v, k].tolist(), counts) for k in range(2)} for v in range(5)
    }
    pool = pooled_training_noise(runs, (1, 2), list(runs))
    pooled = interval("v0", "v1", runs, (1, 2), pool=pool)
    own = interval("v0", "v1", runs, (1, 2))
    width = lambda iv: iv["interval_log_ppl"][1] - iv["interval_log_ppl"][0]  # noqa: E731
    assert pooled["df"] == 4.0 and own["df"] == 1.0
    assert width(pooled) < width(own) / 2


def test_report_states_the_pooled_training_noise() -> None:
    from trainer.ablation_report import noise_sentence

    pool = {"variance": math.log(1.02) ** 2, "df": 9, "variants": 4, "names": []}
    text = noise_sentence({"pooled_training_noise": pool, "seeds": [1, 2, 3, 4]})
    assert "4 variants x 4 seeds (9 degrees of freedom)" in text and "about 2.0%" in text
    assert noise_sentence({"pooled_training_noise": None, "seeds": [1, 2]}) == ""
