"""Real WARC (../shared/data/cc, skipped when absent) -> rules/openwebtext.yaml, unchanged ->
tokens -> `trainer pretrain` for a few steps; the same bytes with 1 and 2 workers; and
rules/openwebtext_warc.yaml's text rules stay those of rules/openwebtext.yaml."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from corpusclean import cli
from trainer import cli as trainer_cli

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"


def digest(out: Path) -> dict[str, str]:
    files = [out / "tokenizer.json"]
    for folder in ("documents", "rejected", "errors", "tokens"):
        files += sorted((out / folder).glob("*"))
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_warc_rules_keep_openwebtexts_text_rules() -> None:
    owt = yaml.safe_load((RULES / "openwebtext.yaml").read_text())
    warc = yaml.safe_load((RULES / "openwebtext_warc.yaml").read_text())
    assert list(warc["steps"][0]) == ["url_filter"]
    assert warc["steps"][1:] == owt["steps"] and warc["tokenize"] == owt["tokenize"]
    assert warc["input"] == {"html_extractor": "resiliparse"}


def test_warc_rules_drop_non_html_urls(tmp_path: Path) -> None:
    """The url_filter regex of rules/openwebtext_warc.yaml: file URLs dropped, pages kept."""
    from corpusclean.rules import load_rules

    rules = load_rules(RULES / "openwebtext_warc.yaml")
    step = rules.steps[0].build()
    urls = [
        "https://example.com/photo.JPG",
        "https://example.com/paper.pdf?download=1",
        "https://example.com/a/b.tar.gz#x",
        "https://example.com/article.html",
        "https://example.com/jpg-guide/",
        "https://example.com/pdfs",
        None,
    ]
    frame = pl.DataFrame({"id": [str(i) for i in range(len(urls))], "text": ["x"] * len(urls)})
    frame = frame.with_columns(pl.Series("url", urls, dtype=pl.String))
    step.setup()
    reject = step.apply(frame).reject
    assert reject is not None
    assert reject.is_not_null().to_list() == [True, True, True, False, False, False, False]


def test_warc_through_openwebtext_rules_to_pretraining(tmp_path: Path) -> None:
    from tests.conftest import SHARED_DATA

    warcs = sorted((SHARED_DATA / "cc").glob("sample-*.warc.gz"))
    if not warcs:
        pytest.skip("no WARC samples in ../shared/data/cc")
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"clean{workers}"
        args = ["run", str(RULES / "openwebtext.yaml"), "--input", *map(str, warcs)]
        code = cli.main([*args, "--output", str(out), "--workers", str(workers), "--quiet"])
        assert code == 0
        outs.append(out)
    assert digest(outs[0]) == digest(outs[1])
    out = outs[0]
    stats = json.loads((out / "stats.json").read_text())
    assert (
        stats["input_docs"]
        == stats["kept_docs"] + sum(stats["rejected"].values()) + stats["error_records"]
    )
    # every non-page record is a 'warc' rejection; every HTML response reached the steps
    rejected = pl.read_parquet(out / "rejected")
    warc = rejected.filter(pl.col("reason") == "warc")
    assert stats["rejected"]["warc"] == warc.height > 0
    assert set(warc["detail"].str.extract(r"^(record_type)=", 1).drop_nulls()) == {"record_type"}
    docs = pl.read_parquet(out / "documents")
    assert docs.height >= 20 and docs["url"].null_count() == 0
    assert docs["domain"].null_count() == 0 and docs["warc_record_id"].null_count() == 0
    assert not docs["text"].str.contains("<div|<p>|</a>").any()
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    assert manifest["train_tokens"] > 10_000 and manifest["val_tokens"] > 0
    model = tmp_path / "model"
    code = trainer_cli.main(
        [
            "pretrain",
            "--shards",
            str(out / "tokens"),
            "--out",
            str(model),
            "--steps",
            "4",
            "--model",
            "tiny",
            "--batch-size",
            "4",
            "--block-size",
            "32",
            "--eval-batches",
            "1",
            "--eval-interval",
            "4",
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert code == 0
    log = [json.loads(line) for line in (model / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4 and log[-1]["val_loss"] > 0
    assert (model / "model.safetensors").is_file()
