"""A tiny leave-one-out ablation: each step's unique contribution, the "redundant" verdict for
exact_dedup followed by minhash_dedup, per-block losses in the run records, and old records
(without them) reused without a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from corpusclean.cli import main as corpusclean_main
from corpusclean.sample import write_eval_text, write_sample
from tests.test_ablation import MODEL

# exact_dedup's copies are exact copies, which minhash_dedup (Jaccard 1) removes too when
# exact_dedup is left out: -exact_dedup holds the same data as clean.
RULES_TEXT = """\
version: 1
name: small
steps:
  - length: {min_words: 50}
  - exact_dedup: {}
  - minhash_dedup: {num_perm: 64, ngram: 5, threshold: 0.8, verify: true}
tokenize:
  tokenizer: {train: {vocab_size: 400}}
  val_fraction: 0.1
"""


@pytest.fixture(scope="module")
def ablation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contribution")
    corpus = root / "corpus.jsonl"
    write_sample(corpus, docs=300, seed=11)
    eval_text = root / "eval.txt"
    write_eval_text(eval_text)
    rules = root / "small.yaml"
    rules.write_text(RULES_TEXT, encoding="utf-8")
    model = root / "model.json"
    model.write_text(json.dumps(MODEL), encoding="utf-8")
    out = root / "out"
    args = [
        "ablate", str(rules), "--input", str(corpus), "--eval", str(eval_text),
        "--out", str(out), "--tokens", "2000", "--seeds", "2", "--leave-one-out",
        "--curve-points", "1", "--model", str(model), "--batch-size", "4",
        "--block-size", "32", "--eval-tokens", "2000", "--eval-block-tokens", "256",
        "--workers", "1", "--quiet",
    ]  # fmt: skip
    assert corpusclean_main(args) == 0
    return {"out": out, "args": args}


def _stats(out: Path, variant: str) -> dict:
    folder = variant.replace("-", "minus-", 1) if variant.startswith("-") else variant
    return json.loads((out / "variants" / folder / "stats.json").read_text())


def test_unique_contribution_of_each_step(ablation: dict[str, Path]) -> None:
    out = ablation["out"]
    result = json.loads((out / "ablation.json").read_text())
    by_label = {c["label"]: c for c in result["comparisons"]}
    assert list(by_label) == ["cleaning (every step)", "length", "exact_dedup", "minhash_dedup"]
    clean = _stats(out, "clean")
    clean_tokens = clean["tokens"]["train_tokens"] + clean["tokens"]["val_tokens"]
    for label, c in by_label.items():
        without = _stats(out, c["without"])
        u = c["unique"]
        assert u["docs"] == without["kept_docs"] - clean["kept_docs"], label
        assert u["bytes"] == without["kept_text_bytes"] - clean["kept_text_bytes"], label
        tokens = without["tokens"]["train_tokens"] + without["tokens"]["val_tokens"]
        assert u["tokens"] == tokens - clean_tokens, label
        assert math.isclose(u["share_of_tokens"], u["tokens"] / clean_tokens), label
        # Filters only remove here: what is kept with every step is kept without one, so by
        # id "only without" is the net count and nothing is kept only with the step.
        assert (u["docs_only_without"], u["docs_only_with"]) == (u["docs"], 0), label
    # length removes short pages nothing else removes.
    assert by_label["length"]["unique"]["docs"] > 0 and by_label["length"]["verdict"] != "redundant"
    assert by_label["minhash_dedup"]["unique"]["docs"] > 0  # near copies exact_dedup misses
    # exact_dedup removes only what minhash_dedup would: the same shards, redundant.
    exact = by_label["exact_dedup"]
    assert exact["unique"]["docs"] == exact["unique"]["tokens"] == 0
    assert exact["unique"]["identical"] is True
    assert exact["verdict"] == "redundant"
    assert "the other steps remove too" in exact["explanation"]
    assert _stats(out, "clean")["rejected"]["exact_dedup"] > 0  # it does remove, in clean
    # Its runs are clean's (same data, init and settings): shared, not trained again.
    for seed in ("1", "2"):
        twin = result["variants"]["-exact_dedup"]["runs"][seed]
        assert twin["reused"] is True
        assert twin["points"] == result["variants"]["clean"]["runs"][seed]["points"]
        assert twin["same_as"] == "clean"
        assert twin["dir"] == result["variants"]["clean"]["runs"][seed]["dir"]
        assert not (out / "runs" / "minus-exact_dedup" / f"seed-{seed}").exists()
    for name in ("raw", "clean", "-length", "-minhash_dedup"):
        assert "same_as" not in result["variants"][name]["runs"]["1"]
        assert Path(result["variants"][name]["runs"]["1"]["dir"], "ablation_run.json").is_file()
    report = (out / "ablation.md").read_text()
    assert "redundant (the same data)" in report
    assert "Data in -length and not in clean: " in report
    assert "redundant" in (out / "ablation.html").read_text()


def test_block_losses_are_recorded_and_give_the_interval(ablation: dict[str, Path]) -> None:
    out = ablation["out"]
    for path in sorted(out.glob("runs/*/seed-*/ablation_run.json")):
        record = json.loads(path.read_text())
        final = record["points"][-1]
        blocks = final["blocks"]
        assert blocks["tokens"] == 256
        for text in ("eval", "heldout"):
            counts = np.array(blocks[text]["counts"])
            nll = np.array(blocks[text]["nll"])
            assert counts[:-1].tolist() == [256] * (len(counts) - 1) and counts[-1] >= 256
            # The blocks hold every scored token and give back the run's perplexity.
            assert counts.sum() == 2000 - 1
            ppl = math.exp(float(np.dot(nll, counts) / counts.sum()))
            assert math.isclose(ppl, final[f"{text}_ppl"], rel_tol=1e-5)
        assert all("blocks" not in p for p in record["points"][:-1])  # final evaluation only
    result = json.loads((out / "ablation.json").read_text())
    for c in result["comparisons"]:
        assert c["interval"]["blocks"] == 7 and len(c["interval"]["interval_log_ppl"]) == 2
        assert c["seed_rule_verdict"] in ("helps", "hurts", "too close to call")
        if c["verdict"] != "redundant":
            assert c["explanation"].startswith("95% CI of the change: ")


def test_old_run_records_without_blocks_are_reused(ablation: dict[str, Path], capsys) -> None:
    out = ablation["out"]
    for path in out.glob("runs/*/seed-*/ablation_run.json"):
        record = json.loads(path.read_text())
        record["points"][-1].pop("blocks")  # as written before per-block losses were kept
        path.write_text(json.dumps(record))
    args = [a for a in ablation["args"] if a != "--quiet"]
    assert corpusclean_main(args) == 0
    printed = capsys.readouterr().out
    # 5 cleaned variants + 4 x 2 runs reused; -exact_dedup's 2 are clean's again
    assert printed.count("reusing the finished run in") == 5 + 4 * 2
    assert printed.count("as clean: its run, not trained again") == 2
    result = json.loads((out / "ablation.json").read_text())
    for c in result["comparisons"]:
        assert "no per-block losses" in c["interval"]["missing"]
        if c["verdict"] != "redundant":
            assert c["verdict"] == c["seed_rule_verdict"]
            assert "so no interval" in c["explanation"]
    assert "none: seed rule" in (out / "ablation.md").read_text()


def test_add_one_in_compares_each_step_alone_with_raw(ablation: dict[str, Path]) -> None:
    out = ablation["out"]
    args = list(ablation["args"])
    args[args.index("--seeds") + 1] = "1"  # the other runs are reused; one seed is enough
    assert corpusclean_main([*args, "--add-one-in"]) == 0
    result = json.loads((out / "ablation.json").read_text())
    assert list(result["variants"])[-3:] == ["+length", "+exact_dedup", "+minhash_dedup"]
    alone = {c["label"]: c for c in result["comparisons"] if c["label"].endswith(" alone")}
    assert list(alone) == ["length alone", "exact_dedup alone", "minhash_dedup alone"]
    raw = _stats(out, "raw")
    for c in alone.values():
        folder = "plus-" + c["with"][1:]
        mine = json.loads((out / "variants" / folder / "stats.json").read_text())
        assert c["without"] == "raw" and c["unique"]["docs"] == raw["kept_docs"] - mine["kept_docs"]
        assert c["unique"]["docs"] > 0 and c["verdict"] == "untested"  # each removes some
    # exact_dedup alone removes what minhash_dedup alone removes, and minhash_dedup more.
    assert (
        0
        < alone["exact_dedup alone"]["unique"]["docs"]
        < alone["minhash_dedup alone"]["unique"]["docs"]
    )
