"""Ablations end to end: variants share tokenizer, init and budget; reuse; the JSON contract;
the verdict statistics; the HTML report as a browser renders it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from transformers import GPT2LMHeadModel

from corpusclean.cli import main as corpusclean_main
from corpusclean.sample import write_eval_text, write_sample
from trainer.ablation import curve_steps, weights_sha256
from trainer.ablation_report import coloured_pixels, find_browser
from trainer.ablation_stats import compare, extrapolate_budget
from trainer.cli import main as trainer_main

RULES_TEXT = """\
version: 1
name: small
steps:
  - length: {min_words: 50}
  - exact_dedup: {}
tokenize:
  tokenizer: {train: {vocab_size: 400}}
  val_fraction: 0.1
"""

MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 64}


@pytest.fixture(scope="module")
def ablation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ablation")
    corpus = root / "corpus.jsonl"
    write_sample(corpus, docs=300, seed=11)
    eval_text = root / "eval.txt"
    write_eval_text(eval_text)
    prose = root / "prose.txt"
    write_eval_text(prose, "prose")
    rules = root / "small.yaml"
    rules.write_text(RULES_TEXT, encoding="utf-8")
    model = root / "model.json"
    model.write_text(json.dumps(MODEL), encoding="utf-8")
    out = root / "out"
    args = [
        "ablate", str(rules), "--input", str(corpus), "--eval", str(eval_text),
        "--eval", str(prose), "--out", str(out), "--tokens", "4000",
        "--seeds", "2",
        "--curve-points", "2", "--model", str(model), "--batch-size", "4",
        "--block-size", "32", "--eval-tokens", "2000", "--workers", "1", "--quiet",
    ]  # fmt: skip
    assert corpusclean_main(args) == 0
    return {"root": root, "out": out, "args": args, "eval": eval_text, "model": model}


def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/seed-*/ablation_run.json"))]


def test_ablation_json_follows_the_contract(ablation: dict[str, Path]) -> None:
    result = json.loads((ablation["out"] / "ablation.json").read_text())
    assert result["eval"] == str(ablation["eval"])
    assert result["seeds"] == [1, 2]
    assert isinstance(result["tokens_per_run"], int) and result["tokens_per_run"] >= 4000
    assert list(result["variants"]) == ["raw", "clean"]
    for variant in result["variants"].values():
        for key, kind in (("docs", int), ("train_tokens", int), ("eval_ppl", list),
                          ("eval_ppl_mean", float), ("eval_ppl_std", float),
                          ("seconds", float)):  # fmt: skip
            assert isinstance(variant[key], kind), key
        assert len(variant["eval_ppl"]) == 2 and all(x > 1 for x in variant["eval_ppl"])
        assert math.isclose(variant["eval_ppl_mean"], sum(variant["eval_ppl"]) / 2)
        # the second evaluation text is scored at every curve point, as a number of its own
        assert len(variant["eval_2_ppl"]) == 2 and all(x > 1 for x in variant["eval_2_ppl"])
        assert variant["eval_2_ppl"] != variant["eval_ppl"]
        for run in variant["runs"].values():
            assert all(p["eval_2_ppl"] > 1 for p in run["points"])
    assert result["more_evals"] == {"eval_2": str(ablation["root"] / "prose.txt")}
    report = (ablation["out"] / "ablation.md").read_text()
    assert "prose.txt ppl" in report and "| - |" not in report
    v = result["variants"]
    assert v["raw"]["docs"] == 300 > v["clean"]["docs"]
    assert v["raw"]["train_tokens"] > v["clean"]["train_tokens"]
    assert [c["label"] for c in result["comparisons"]] == ["cleaning (every step)"]
    for c in result["comparisons"]:
        assert c["verdict"] in ("helps", "hurts", "too close to call")
        assert len(c["per_seed_log_ppl_diff"]) == 2


def test_variants_share_tokenizer_init_and_budget(ablation: dict[str, Path]) -> None:
    out = ablation["out"]
    records = _records(out)
    assert len(records) == 2 * 2
    runs = [json.loads((Path(r["log"]).parent / "run.json").read_text()) for r in records]
    for r, run in zip(records, runs, strict=True):
        # Each run really trained from its seed's init, on its own variant's shards...
        assert (run["config"]["init"], run["config"]["seed"]) == (r["init"], r["seed"])
        assert run["config"]["shards"] == r["shards"]
        # ...whose weights are the ones the record's hash names (recomputed from the files).
        weights = GPT2LMHeadModel.from_pretrained(r["init"]).state_dict()
        assert weights_sha256(weights) == r["init_sha256"]
    for seed in (1, 2):
        mine = [(r, run) for r, run in zip(records, runs, strict=True) if r["seed"] == seed]
        assert len({run["config"]["init"] for _, run in mine}) == 1  # one init per seed
        assert len({r["shards"] for r, _ in mine}) == 2  # on each variant's own data
        # The same initial weights score the same on the same eval tokens, whatever the data.
        assert len({round(r["points"][0]["eval_ppl"], 6) for r, _ in mine}) == 1
    assert len({r["init_sha256"] for r in records}) == 2  # seeds differ
    # One budget, as the training runs themselves planned and logged it.
    budgets = {
        (run["plan"]["steps"], run["summary"]["tokens"], run["config"]["lr"],
         json.loads(Path(r["log"]).read_text().splitlines()[-1])["tokens"])
        for r, run in zip(records, runs, strict=True)
    }  # fmt: skip
    assert len(budgets) == 1
    tokenizers = {(p.parent / "tokenizer.json").read_bytes() for p in out.glob("variants/*/tokens")}
    assert len(tokenizers) == 1
    manifests = [json.loads(p.read_text()) for p in out.glob("variants/*/tokens/manifest.json")]
    assert len({m["vocab_size"] for m in manifests}) == 1


def test_repeated_ablation_reuses_finished_runs(ablation: dict[str, Path], capsys) -> None:
    out = ablation["out"]
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed-*/train/model.safetensors")}
    stats_before = {p: p.stat().st_mtime_ns for p in out.glob("variants/*/stats.json")}
    assert len(before) == 4
    args = [a for a in ablation["args"] if a != "--quiet"]
    assert corpusclean_main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("reusing the finished run") == 2 + 4
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before
    assert stats_before == {p: p.stat().st_mtime_ns for p in stats_before}
    result = json.loads((out / "ablation.json").read_text())
    assert all(r["reused"] for v in result["variants"].values() for r in v["runs"].values())


def test_leave_one_out_and_a_changed_setting(ablation: dict[str, Path], capsys) -> None:
    args = [a for a in ablation["args"] if a != "--quiet"]
    args[args.index("--seeds") + 1] = "1"
    args += ["--leave-one-out", "--lr", "0.001"]
    assert corpusclean_main(args) == 0
    printed = capsys.readouterr().out
    # raw and clean are cleaned as before: reused; the -STEP variants are new.
    assert printed.count("reusing the finished run in") == 2
    assert "variant -length: 1 step(s)" in printed and "variant -exact_dedup: 1 step(s)" in printed
    assert printed.count("scoring the initial weights") == 4  # a new lr: every run trains again
    result = json.loads((ablation["out"] / "ablation.json").read_text())
    assert result["seeds"] == [1]
    v = result["variants"]
    assert list(v) == ["raw", "clean", "-length", "-exact_dedup"]
    assert v["raw"]["docs"] > v["-length"]["docs"] >= v["clean"]["docs"]  # both steps remove
    labels = [c["label"] for c in result["comparisons"]]
    assert labels == ["cleaning (every step)", "length", "exact_dedup"]
    assert all(c["verdict"] == "untested" for c in result["comparisons"])


def test_trainer_ablate_refuses_variants_with_different_tokenizers(
    ablation: dict[str, Path], tmp_path: Path, capsys
) -> None:
    other = tmp_path / "other"
    shutil.copytree(ablation["out"] / "variants" / "raw", other)
    tokenizer = json.loads((other / "tokenizer.json").read_text())
    tokenizer["model"]["vocab"]["zzzz"] = len(tokenizer["model"]["vocab"])
    (other / "tokenizer.json").write_text(json.dumps(tokenizer))
    code = trainer_main([
        "ablate", "--variant", f"a={ablation['out'] / 'variants' / 'clean' / 'tokens'}",
        "--variant", f"b={other / 'tokens'}", "--eval", str(ablation["eval"]),
        "--out", str(tmp_path / "abl"), "--tokens", "1000",
    ])  # fmt: skip
    assert code == 2
    assert "do not share one tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "abl" / "runs").exists()


def test_trainer_ablate_from_shards(ablation: dict[str, Path], tmp_path: Path) -> None:
    variants = ablation["out"] / "variants"
    code = trainer_main([
        "ablate", "--variant", f"clean={variants / 'clean' / 'tokens'}",
        "--variant", f"raw={variants / 'raw' / 'tokens'}", "--eval", str(ablation["eval"]),
        "--out", str(tmp_path / "abl"), "--tokens", "2000", "--seeds", "1",
        "--curve-points", "1", "--model", str(ablation["model"]), "--batch-size", "4",
        "--block-size", "32", "--eval-tokens", "1000", "--quiet",
    ])  # fmt: skip
    assert code == 0
    result = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert [c["label"] for c in result["comparisons"]] == ["raw vs clean"]
    assert result["settings"]["heldout"].endswith("clean/tokens")
    for name in ("ablation.md", "ablation.html", "ablation_curves.png", "ablation_ppl.png"):
        assert (tmp_path / "abl" / name).stat().st_size > 0


# -- statistics on hand-made runs -------------------------------------------------------------


def _runs(finals: dict[str, list[float]], curves: dict[str, list[float]] | None = None) -> dict:
    runs: dict[str, dict[int, dict]] = {}
    for name, values in finals.items():
        runs[name] = {}
        for i, ppl in enumerate(values, start=1):
            curve = (curves or {}).get(name, [ppl * 2, ppl])
            points = [{"step": 0, "tokens": 0, "eval_ppl": 1000.0}]
            for k, c in enumerate(curve, start=1):
                points.append({"step": k, "tokens": 1000 * 10**k, "eval_ppl": c * ppl / curve[-1]})
            runs[name][i] = {"points": points}
    return runs


def test_helps_only_when_every_seed_agrees_beyond_the_spread() -> None:
    c = ("step", "a", "b")  # label, without, with
    helps = compare(*c, _runs({"a": [100.0, 104.0], "b": [80.0, 83.0]}), (1, 2))
    assert helps["verdict"] == "helps" and helps["mean_ppl_change"] < 0
    hurts = compare(*c, _runs({"a": [80.0, 83.0], "b": [100.0, 104.0]}), (1, 2))
    assert hurts["verdict"] == "hurts"
    # Same direction but inside the seed range (a spans 100..120): too close to call.
    close = compare(*c, _runs({"a": [100.0, 120.0], "b": [95.0, 112.0]}), (1, 2))
    assert close["verdict"] == "too close to call"
    assert "within the seed spread" in close["explanation"]
    split = compare(*c, _runs({"a": [100.0, 100.0], "b": [90.0, 110.0]}), (1, 2))
    assert split["verdict"] == "too close to call" and "disagree" in split["explanation"]
    one = compare(*c, _runs({"a": [100.0], "b": [50.0]}), (1,))
    assert one["verdict"] == "untested"


def test_extrapolation_follows_a_widening_gap() -> None:
    # The mean difference grows by 0.01 nats per e-fold of tokens: reaching 0.05 takes
    # exp((0.05 - intercept) / 0.01) tokens.
    curve = [{"tokens": t, "mean_log_ppl_diff": -0.01 * math.log(t / 1000)} for t in
             (2000, 4000, 8000)]  # fmt: skip
    needed = extrapolate_budget(curve, 0.05)
    assert needed is not None and math.isclose(needed, 1000 * math.exp(5), rel_tol=1e-6)
    narrowing = [{"tokens": t, "mean_log_ppl_diff": -0.1 + 0.01 * math.log(t)} for t in
                 (2000, 4000, 8000)]  # fmt: skip
    assert extrapolate_budget(narrowing, 0.5) is None


def test_curve_steps_end_at_the_budget() -> None:
    assert curve_steps(10, 4) == [2, 5, 8, 10]
    assert curve_steps(3, 5) == [1, 2, 3]


# -- the HTML as a browser shows it -------------------------------------------------------------


def test_html_report_renders_its_plots_in_headless_chromium(
    ablation: dict[str, Path], tmp_path: Path
) -> None:
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt install chromium)")
    with_plots, without = coloured_pixels(ablation["out"] / "ablation.html", tmp_path, browser)
    assert with_plots > 3 * without + 2000, (with_plots, without)
