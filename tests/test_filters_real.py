"""The filters on real documents (../shared/data/webmix; skipped when absent).

The filters are found in the registry: every streaming step (not corpus-wide) that has
signal columns, so a new filter is run here without being listed."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from corpusclean.steps import STEPS
from corpusclean.tokenizer import TrainTokenizer, train_bpe
from tests.conftest import SHARED_DATA

#: Quality filters judged on webmix's labels; ``decontaminate`` judges against evaluation
#: texts, not quality (tests/test_decontaminate.py: planted passages found, nothing else).
FILTERS = sorted(
    name
    for name, step in STEPS.items()
    if step.signal_columns and not step.corpus_wide and name != "decontaminate"
)
#: Each filter's share of clean English pages it must keep and of junk it must drop. A filter
#: that is not here is listed in NOT_CALIBRATED with the reason.
CALIBRATED = {
    "gopher_quality": (0.90, 0.60),
    "gopher_repetition": (0.80, 0.30),
    "c4_quality": (0.65, 0.70),
    "fineweb_quality": (0.70, 0.45),
}
NOT_CALIBRATED = {
    "html_tags": "junk is not markup; test_html_tags_rarely_fires_on_clean_prose instead",
    "min_tokens": "a length rule, not a quality rule; tests/test_min_tokens.py checks its counts",
}


@pytest.fixture(scope="module")
def webmix() -> pl.DataFrame:
    # module-scoped (the filters run once for every test here); the tests also request the
    # function-scoped ``shared_data`` fixture, which skips them when the data is absent
    part = SHARED_DATA / "webmix" / "part-0000.jsonl.gz"
    labels = SHARED_DATA / "webmix" / "labels.parquet"
    if not part.is_file() or not labels.is_file():
        pytest.skip("webmix part-0000 is absent")
    docs = pl.read_ndjson(part).select("id", "text")
    truth = pl.read_parquet(labels, columns=["id", "category", "lang"])
    return docs.join(truth, on="id", how="left", maintain_order="left")


@pytest.fixture(scope="module")
def needs(
    webmix: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, object]]:
    """Options a step cannot run without outside the engine (whose ``bind`` fills them in):
    ``min_tokens`` counts with a tokenizer, here one trained on 300 of the documents."""
    tokenizer = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    texts = webmix.get_column("text").head(300).to_list()
    train_bpe(texts, TrainTokenizer(vocab_size=2000)).save(str(tokenizer))
    return {"min_tokens": {"tokenizer": str(tokenizer)}}


@pytest.fixture(scope="module")
def decided(webmix: pl.DataFrame, needs: dict[str, dict[str, object]]) -> dict[str, pl.DataFrame]:
    out = {}
    for name in FILTERS:
        step = STEPS[name](STEPS[name].Options(keep_signals=True, **needs.get(name, {})))
        step.setup()
        # two batches, as the engine would send them
        parts = []
        for chunk in (webmix.slice(0, 1000), webmix.slice(1000)):
            result = step.apply(chunk.select("id", "text"))
            reject = result.reject
            detail = pl.lit(None, dtype=pl.String) if reject is None else reject
            parts.append(result.frame.with_columns(detail.alias("detail")))
        out[name] = pl.concat(parts).join(
            webmix.select("id", "category", "lang"), on="id", how="left", maintain_order="left"
        )
    return out


@pytest.mark.parametrize("name", FILTERS)
def test_signals_are_finite(shared_data: Path, decided: dict[str, pl.DataFrame], name: str) -> None:
    frame = decided[name]
    signals = [c for c in frame.columns if c.startswith(f"{name}.")]
    assert signals
    for column in signals:
        values = frame.get_column(column)
        if values.dtype.is_numeric():
            finite = [v for v in values.to_list() if v is not None]
            assert all(math.isfinite(v) and v >= 0 for v in finite), column
            # only the mean word length of a document without words is undefined
            assert values.null_count() == 0 or column.endswith("mean_word_length")


def test_every_filter_is_calibrated_or_says_why_not() -> None:
    assert set(FILTERS) == set(CALIBRATED) | set(NOT_CALIBRATED)
    assert not set(CALIBRATED) & set(NOT_CALIBRATED)


@pytest.mark.parametrize("name", sorted(CALIBRATED))
def test_clean_documents_pass_and_junk_fails(
    shared_data: Path, decided: dict[str, pl.DataFrame], name: str
) -> None:
    clean_pass, junk_fail = CALIBRATED[name]
    frame = decided[name].with_columns(kept=pl.col("detail").is_null())
    english = pl.col("lang") == "en"
    clean = frame.filter((pl.col("category") == "original") & english)
    junk = frame.filter((pl.col("category") == "junk") & english)
    assert clean.height > 500 and junk.height > 100
    assert clean.get_column("kept").mean() >= clean_pass
    assert 1 - junk.get_column("kept").mean() >= junk_fail


def test_every_rejection_names_its_rule(
    shared_data: Path, decided: dict[str, pl.DataFrame]
) -> None:
    for name, frame in decided.items():
        details = frame.get_column("detail").drop_nulls()
        assert details.len() > 0, name
        assert details.str.contains(r"^[a-z0-9_]+(=|$)").all(), name


def test_html_tags_rarely_fires_on_clean_prose(
    shared_data: Path, decided: dict[str, pl.DataFrame]
) -> None:
    frame = decided["html_tags"].filter(pl.col("category") == "original")
    assert frame.get_column("detail").is_not_null().mean() < 0.05


def test_c4_rewrites_kept_text_only(
    shared_data: Path, decided: dict[str, pl.DataFrame], webmix: pl.DataFrame
) -> None:
    frame = decided["c4_quality"].join(
        webmix.select("id", pl.col("text").alias("original")), on="id"
    )
    kept = frame.filter(pl.col("detail").is_null())
    dropped = frame.filter(pl.col("detail").is_not_null())
    assert (dropped.get_column("text") == dropped.get_column("original")).all()
    assert (
        kept.get_column("text").str.len_chars() <= kept.get_column("original").str.len_chars()
    ).all()
    assert (kept.get_column("text") != kept.get_column("original")).any()
