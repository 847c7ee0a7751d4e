"""Assembling the sample's records: one page builder per ``truth`` label, in planned order.

:func:`~corpusclean.sample.composition.plan` fixes which record is which; the text of every
record is then drawn from one generator (seeded ``(seed, "text")``) in record order, so copies can
only copy clean articles already written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from corpusclean.sample.articles import ArticleWriter
from corpusclean.sample.composition import plan
from corpusclean.sample.defects.boilerplate import boilerplate
from corpusclean.sample.defects.duplicates import CleanPool, exact_dup, near_dup
from corpusclean.sample.defects.keyword_spam import keyword_spam
from corpusclean.sample.defects.link_list import link_list
from corpusclean.sample.defects.mojibake import mojibake
from corpusclean.sample.defects.non_english import non_english
from corpusclean.sample.defects.short import short
from corpusclean.sample.seeds import seeded


@dataclass(frozen=True)
class SampleNote:
    """What the generator knows about a record beyond its ``truth`` label.

    ``source_id``: the earlier clean record an ``exact_dup``/``near_dup`` copies; ``original``:
    the text of a ``mojibake`` record before garbling; ``encoding``: the wrong codec it was decoded
    with (``windows-1252`` or ``latin-1``); ``lang``: the lid.176 label of a ``non_english`` record.
    """

    truth: str
    source_id: str | None = None
    original: str | None = None
    encoding: str | None = None
    lang: str | None = None


def generate_annotated(
    docs: int = 2000, seed: int = 0
) -> Iterator[tuple[dict[str, str], SampleNote]]:
    """Like :func:`generate_sample`, with a :class:`SampleNote` beside each record."""
    if docs < 0:
        raise ValueError(f"docs must be >= 0, got {docs}")
    rng = seeded(seed, "text")
    articles = ArticleWriter(rng)
    pool = CleanPool()
    for i, truth in enumerate(plan(docs, seed)):
        doc_id = f"doc-{i:06d}"
        note = SampleNote(truth)
        if truth == "clean":
            text, url = articles.clean_record()
            pool.records.append((doc_id, text, url))
        elif truth == "exact_dup":
            text, url, source = exact_dup(rng, pool)
            note = SampleNote(truth, source_id=source)
        elif truth == "near_dup":
            text, url, source = near_dup(rng, pool)
            note = SampleNote(truth, source_id=source)
        elif truth == "mojibake":
            text, url, original, encoding = mojibake(rng, articles)
            note = SampleNote(truth, original=original, encoding=encoding)
        elif truth == "non_english":
            text, url, lang = non_english(rng)
            note = SampleNote(truth, lang=lang)
        elif truth == "boilerplate":
            text, url = boilerplate(rng)
        elif truth == "link_list":
            text, url = link_list(rng)
        elif truth == "keyword_spam":
            text, url = keyword_spam(rng)
        else:
            text, url = short(rng)
        yield {"id": doc_id, "url": url, "text": text, "truth": truth}, note


def generate_sample(docs: int = 2000, seed: int = 0) -> Iterator[dict[str, str]]:
    """Yield ``docs`` records ``{"id", "url", "text", "truth"}`` of the embedded sample corpus.

    Deterministic in ``(docs, seed)``; see :mod:`corpusclean.sample` for the composition.
    """
    for record, _ in generate_annotated(docs, seed):
        yield record
