"""The embedded sample corpus: a deterministic, web-like raw corpus with planted defects.

Why it exists
-------------
corpusclean must run end to end on a fresh machine with no data and no network (``make demo``,
the test suite, the CLI's default input). This package builds such a corpus from text that is
present wherever Python runs, and labels every record with the one defect it was built to have,
so that a cleaning run can be scored against the truth.

What is in it (default ``docs=2000``; the proportions hold for any size)
------------------------------------------------------------------------
Raw Common Crawl WET text is mostly not worth training on: standard recipes (C4, Gopher,
RefinedWeb, FineWeb) keep well under half of it. The sample mirrors that with ``COMPOSITION``
(counts are exact, e.g. 760 clean records of 2000):

================  =====  ==========================================================================
truth             share  what the record is
================  =====  ==========================================================================
``clean``         38 %   English article: a title line, then paragraphs of prose sentences.
``exact_dup``     10 %   verbatim copy of an earlier clean article under a new id and URL
                         (mirrors, syndication); sources are drawn rich-get-richer, so some
                         articles recur many times.
``near_dup``       8 %   an earlier clean article with 0.3-2.5 % of its words substituted, deleted
                         or inserted, and/or a short header/footer (posted by, share this, ...):
                         word 5-gram Jaccard to the source 0.75-1.0, above 0.8 for ~95 %.
``mojibake``       4 %   a fresh clean article seeded with curly quotes, dashes and accented names
                         (café, naïve, Gödel, ...), then encoded UTF-8 and decoded as windows-1252
                         (sloppily, as browsers do) or latin-1; ``ftfy.fix_text`` recovers it.
``non_english``   16 %   everyday prose in one of 16 languages (de fr es it pt nl ru zh ja ar pl
                         sv tr ko el hi): hand-written sentences that lid.176 labels correctly.
``boilerplate``    9 %   navigation, cookie and JavaScript notices, footers, short unpunctuated
                         lines.
``link_list``      6 %   lists of link titles, often followed by a URL.
``keyword_spam``   4 %   keyword stuffing that Gopher's repetition rules catch.
``short``          5 %   1-10 word pages ("404 Not Found", "Loading...").
================  =====  ==========================================================================

By bytes the defects weigh more than by count (duplicates copy full articles; link lists, spam
and other-language pages are long): clean articles are about 44 % of the raw bytes and mojibake
articles, which a recipe repairs rather than removes, another 5 %, so the rest - about half the
bytes - is what a full recipe should remove, as on a real crawl. Every junk page (boilerplate,
link list, spam, short) fails at least one of the Gopher, C4 or FineWeb rules; other-language
pages are left to language identification.

Where things are
----------------
================================  ==============================================================
module                            what it holds
================================  ==============================================================
``sources``                       where the text comes from: stdlib docstrings, ``pydoc_data``
                                  help topics, ``data/sample_sentences.json``; the held-out split
``composition``                   ``COMPOSITION``, ``TRUTHS`` and the shuffled plan of labels
``articles``                      the ``clean`` records: articles cut from the prose stream
``defects``                       one module per planted defect (see its docstring)
``urls``, ``vocabulary``          addresses and the words several page kinds share
``seeds``                         determinism: every draw from a ``Random`` seeded by strings
``records``                       assembling the records (``generate_sample``, ``SampleNote``)
``writer``                        writing them as JSON lines (``write_sample``,
                                  ``SAMPLE_FORMAT``)
``eval_text``                     the held-out evaluation text (``write_eval_text``)
``__main__``                      ``python -m corpusclean.sample OUTPUT [--docs N] [--seed S]``
================================  ==============================================================

The same ``docs`` and ``seed`` give the same records and byte-identical files; the English text
also depends on the Python minor version, whose docstrings differ slightly.
"""

from __future__ import annotations

from corpusclean.sample.composition import COMPOSITION, TRUTHS
from corpusclean.sample.defects.non_english import LANGUAGES
from corpusclean.sample.eval_text import eval_articles, eval_prose, write_eval_text
from corpusclean.sample.records import SampleNote, generate_annotated, generate_sample
from corpusclean.sample.writer import SAMPLE_FORMAT, write_sample

__all__ = [
    "COMPOSITION",
    "LANGUAGES",
    "SAMPLE_FORMAT",
    "TRUTHS",
    "SampleNote",
    "generate_annotated",
    "eval_articles",
    "eval_prose",
    "generate_sample",
    "write_eval_text",
    "write_sample",
]
