"""The held-out evaluation text that comes with the sample: English no record contains.

Two evaluation texts come with the sample. :func:`eval_articles`: clean articles drawn by a
generator of their own, so no record contains them (unseen documents of the clean kind, the
primary evaluation text of ``corpusclean demo``'s ablation). :func:`eval_prose`: one prose unit
in eight (chosen by a CRC of its text, so the choice is stable) is kept out of every record;
those units are English of the articles' register in sentences no model has trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from corpusclean.sample.articles import ArticleWriter
from corpusclean.sample.seeds import seeded
from corpusclean.sample.sources import heldout_units


def eval_prose() -> str:
    """Held-out English in the corpus' register: the prose units no sample record contains.

    One paragraph per unit, separated by blank lines (one unit in ``HELDOUT_EVERY``, ~6,700
    words). It measures generalisation to sentences never trained on; with the sample's small
    pool of sentences, that is mostly a test of how well rare word pieces were learned.
    """
    return "\n\n".join(" ".join(sentences) for _, sentences in heldout_units()) + "\n"


def eval_article_writer(seed: int = 0) -> ArticleWriter:
    """The writer :func:`eval_articles` draws from: seeded apart from every corpus."""
    return ArticleWriter(seeded(f"eval/{seed}", "text"))


def eval_articles(docs: int = 60, seed: int = 0) -> str:
    """Held-out clean articles: ``docs`` new articles of the ``clean`` kind, blank-line separated.

    Drawn by a generator of their own (seeded apart from every corpus), so no record contains
    them, but from the same pool of prose as the corpus' clean articles: they are to the sample
    what a crawl's unseen good pages are to a crawl, the distribution cleaning aims at. Being
    cut from the same sentences, they share sentences and some whole paragraphs (about 15 %)
    with training articles, as pages of one site share phrasing; :func:`eval_prose` does not.
    """
    articles = eval_article_writer(seed)
    return "\n\n".join(articles.clean_record()[0] for _ in range(docs)) + "\n"


EVAL_KINDS: dict[str, Callable[[], str]] = {"articles": eval_articles, "prose": eval_prose}


def write_eval_text(path: str | Path, kind: str = "articles") -> int:
    """Write :func:`eval_articles` (or :func:`eval_prose`) to ``path``; return its word count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = EVAL_KINDS[kind]()
    path.write_text(text, encoding="utf-8")
    return len(text.split())
