"""Ablations measure contamination: a corpus with planted passages of the evaluation text shows
raw > 0 in ablation.json (and a warning in the report); with ``--decontaminate`` every
variant, raw included, holds none of it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from corpusclean.ablate import measure_contamination
from corpusclean.cli import main as corpusclean_main
from corpusclean.io.shards import is_val
from corpusclean.sample import write_sample
from tests.test_ablation import MODEL, RULES_TEXT

PLANTED = 12


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contaminated")
    # The evaluation text is made-up words, so that only the planted pages share n-grams with
    # it (the embedded sample's own eval text shares 40% of its 13-grams with 200 sample
    # records: both are mined from the same docstrings).
    rng = random.Random(0)
    syllables = ["ka", "lo", "mi", "nu", "pe", "ro", "su", "ti", "va", "ze"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(400)]
    words = [rng.choice(vocab) for _ in range(3000)]
    eval_text = root / "eval.txt"
    eval_text.write_text(
        "\n".join(" ".join(words[i : i + 15]) + "." for i in range(0, len(words), 15)),
        encoding="utf-8",
    )
    corpus = root / "corpus.jsonl"
    write_sample(corpus, docs=200, seed=11)
    with corpus.open("a", encoding="utf-8") as out:  # pages quoting 120 words of the eval text
        for i in range(PLANTED):
            at = rng.randrange(0, len(words) - 120)
            text = "Quoted from elsewhere. " + " ".join(words[at : at + 120])
            out.write(json.dumps({"id": f"planted-{i}", "text": text}) + "\n")
    rules = root / "small.yaml"
    rules.write_text(RULES_TEXT, encoding="utf-8")
    model = root / "model.json"
    model.write_text(json.dumps(MODEL), encoding="utf-8")
    return {"root": root, "corpus": corpus, "eval": eval_text, "rules": rules, "model": model}


def _ablate(s: dict[str, Path], out: Path, *extra: str) -> dict:
    args = [
        "ablate", str(s["rules"]), "--input", str(s["corpus"]), "--eval", str(s["eval"]),
        "--out", str(out), "--tokens", "2000", "--seeds", "1", "--curve-points", "1",
        "--model", str(s["model"]), "--batch-size", "4", "--block-size", "32",
        "--eval-tokens", "1000", "--workers", "1", "--quiet", *extra,
    ]  # fmt: skip
    assert corpusclean_main(args) == 0
    return json.loads((out / "ablation.json").read_text(encoding="utf-8"))


def test_planted_contamination_shows_and_decontaminate_removes_it(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(setup["root"] / "xdg"))
    key = str(setup["eval"])
    plain = _ablate(setup, setup["root"] / "plain")
    raw = plain["variants"]["raw"]["contamination"][key]
    assert raw["ngram_overlap"] > 0.01 and raw["eval_ngrams"] > 0 and raw["ngram"] == 13
    # the planted pages the id hash puts on the training side, and nothing else
    train = sum(~is_val([f"planted-{i}" for i in range(PLANTED)], 0.1))
    assert raw["docs"] == train > 0
    assert plain["variants"]["clean"]["contamination"][key]["docs"] == train
    assert set(raw) >= {"ngram_overlap", "docs"}
    report = (setup["root"] / "plain" / "ablation.md").read_text(encoding="utf-8")
    assert "Warning: contamination." in report and "variant raw" in report
    assert "## Contamination" in report
    assert "Warning: contamination." in (setup["root"] / "plain" / "ablation.html").read_text()

    clean = _ablate(setup, setup["root"] / "clean", "--decontaminate", "--leave-one-out")
    assert set(clean["variants"]) == {"raw", "clean", "-length", "-exact_dedup"}
    for name, variant in clean["variants"].items():
        figures = variant["contamination"][key]
        assert figures["ngram_overlap"] == 0 and figures["docs"] == 0, name
        stats = json.loads(
            (setup["root"] / "clean" / "variants" / _dir(name) / "stats.json").read_text()
        )
        assert stats["steps"][-1]["name"] == "decontaminate"
        assert stats["rejected"]["decontaminate"] >= 1, name  # it removed the planted pages
    report = (setup["root"] / "clean" / "ablation.md").read_text(encoding="utf-8")
    assert "Warning: contamination." not in report


def _dir(name: str) -> str:
    return name.replace("-", "minus-", 1) if name.startswith("-") else name


def test_measure_counts_only_training_documents(
    setup: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every document on the validation side nothing is training data: overlap 0."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    documents = setup["root"] / "plain" / "variants" / "raw" / "documents"
    assert documents.is_dir()
    key = str(setup["eval"])
    every = measure_contamination(documents, [key], 0.0)[key]
    none = measure_contamination(documents, [key], 1.0)[key]
    assert every["docs"] == PLANTED and every["ngram_overlap"] > 0
    assert none["docs"] == 0 and none["ngram_overlap"] == 0
