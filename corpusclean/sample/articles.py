"""The ``clean`` records: English articles cut from one stream of documentation prose.

Clean articles are cut from one deterministic sentence stream (source paragraphs dealt from a
shuffled deck, so neighbouring sentences usually belong together) into lines of 18-80 words; every
line of every clean article is unique across the corpus (a repeated cut is extended by one more
sentence). That matters: a corpus-wide ``line_dedup`` step must only ever find the duplicates that
were planted on purpose. Articles are 150-1500 words (median about 300, mean about 450), every
body line is a run of sentences ending in terminal punctuation and only the title line is
unpunctuated, so the Gopher quality/repetition, C4 and FineWeb rules keep them, and fastText
lid.176 scores them as English (>= 0.65).

The same writer cuts the articles that mojibake records garble and, with a generator of its own,
the held-out evaluation articles.
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.sources import ProseUnit, corpus_units
from corpusclean.sample.urls import article_url
from corpusclean.sample.vocabulary import SITES

_TECH_TITLES = (
    "Notes on {t}", "Understanding {t}", "A Closer Look at {t}", "What You Should Know About {t}",
    "Getting Started with {t}", "Common Questions About {t}", "How {t} Works",
    "Reading the Documentation: {t}", "{t} Explained", "A Practical Introduction to {t}",
    "Lessons from the {t} Documentation", "A Short Guide to {t}",
)  # fmt: skip
_LIFE_TITLES = (
    "Small Habits That Make a Big Difference", "Notes from a Busy Week",
    "What I Learned This Year", "A Few Thoughts on Learning", "Weekend Reading",
    "Life in a Small Town", "On Writing Things Down", "Why Simple Plans Work Best",
    "Lessons from the Kitchen and the Office", "Thoughts on Work, Rest and Everything Between",
)  # fmt: skip


class ArticleWriter:
    """Cuts English articles from the prose stream, drawing from ``rng``.

    ``rng`` is shared with every other page builder of a sample, so the order of calls is part of
    the sample's content.
    """

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        # Held-out units are the evaluation text (eval_prose), never corpus material.
        self.units: list[ProseUnit] = corpus_units()
        self.deck: list[int] = []
        self.pending: list[tuple[str, str]] = []
        self.seen_lines: set[str] = set()

    def _sentence(self) -> tuple[str, str]:
        """Next ``(topic, sentence)`` of the stream: units dealt from a reshuffled deck."""
        while not self.pending:
            if not self.deck:
                self.deck = list(range(len(self.units)))
                self.rng.shuffle(self.deck)
            topic, sentences = self.units[self.deck.pop()]
            self.pending = [(topic, s) for s in reversed(sentences)]
        return self.pending.pop()

    def _line(self) -> tuple[str, str]:
        """A paragraph line of 18-80 words, never emitted before."""
        target = self.rng.randint(18, 80)
        topic, first = self._sentence()
        parts, words = [first], len(first.split())
        while words < target:
            _, sentence = self._sentence()
            parts.append(sentence)
            words += len(sentence.split())
        line = " ".join(parts)
        while line in self.seen_lines:
            line += " " + self._sentence()[1]
        self.seen_lines.add(line)
        return topic, line

    def _title(self, topic: str) -> str:
        rng = self.rng
        if topic:
            title = rng.choice(_TECH_TITLES).format(t=topic)
            if "." not in title.split()[0]:
                title = title[0].upper() + title[1:]
        else:
            title = rng.choice(_LIFE_TITLES)
        if rng.random() < 0.25:
            title += f" | {rng.choice(SITES).title()}"
        return title

    def article(self) -> tuple[str, list[str]]:
        """Title and body lines of a 150-1500 word English article."""
        target = int(150 * 10 ** (self.rng.random() ** 2))
        lines: list[str] = []
        words = 0
        topic = ""
        while words < target:
            line_topic, line = self._line()
            topic = topic or line_topic
            lines.append(line)
            words += len(line.split())
        return self._title(topic), lines

    def clean_record(self) -> tuple[str, str]:
        """``(text, url)`` of a ``clean`` record: the title, a blank line, blank-line paragraphs."""
        title, lines = self.article()
        return title + "\n\n" + "\n\n".join(lines), article_url(self.rng, title)
