"""The embedded sample corpus: a deterministic, web-like raw corpus with planted defects.

Why it exists
-------------
corpusclean must run end to end on a fresh machine with no data and no network (``make demo``,
the test suite, the CLI's default input). This module builds such a corpus from text that is
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

Where the English comes from
----------------------------
Prose sentences are mined from the standard library: docstrings of a fixed, sorted list of
pure-Python modules (present on 3.11+) and the ``pydoc_data`` help topics (the language
reference). Paragraphs with code are skipped (indented blocks, ``>>>`` prompts, reST markup) and
so is every sentence with code-like symbols, so what remains reads as plain documentation prose.
About a hundred hand-written everyday sentences (``data/sample_sentences.json``) are mixed in;
they are also the whole source under ``python -OO``, where docstrings are stripped.

Clean articles are cut from one deterministic sentence stream (source paragraphs dealt from a
shuffled deck, so neighbouring sentences usually belong together) into lines of 18-80 words; every
line of every clean article is unique across the corpus (a repeated cut is extended by one more
sentence). That matters: a corpus-wide ``line_dedup`` step must only ever find the duplicates that
were planted on purpose. Articles are 150-1500 words (median about 300, mean about 450), every
body line is a run of sentences ending in terminal punctuation and only the title line is
unpunctuated, so the Gopher quality/repetition, C4 and FineWeb rules keep them, and fastText
lid.176 scores them as English (>= 0.65).

Held-out evaluation text
------------------------
Two evaluation texts come with the sample. :func:`eval_articles`: clean articles drawn by a
generator of their own, so no record contains them (unseen documents of the clean kind, the
primary evaluation text of ``corpusclean demo``'s ablation). :func:`eval_prose`: one prose unit
in eight (chosen by a CRC of its text, so the choice is stable) is kept out of every record;
those units are English of the articles' register in sentences no model has trained on.

Determinism
-----------
Everything is drawn from ``random.Random`` instances seeded from ``(seed, purpose)`` strings, never
from the global generator or ``hash()``: the same ``docs`` and ``seed`` give the same records and
byte-identical files (gzip with ``mtime=0`` and no file name; zstd single-threaded). The sequence
of ``truth`` labels depends on ``docs`` and ``seed`` only; the English text also depends on the
Python minor version, whose docstrings differ slightly.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import inspect
import json
import re
import sys
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from random import Random
from typing import BinaryIO

__all__ = [
    "COMPOSITION",
    "LANGUAGES",
    "TRUTHS",
    "SampleNote",
    "generate_annotated",
    "eval_articles",
    "eval_prose",
    "generate_sample",
    "write_eval_text",
    "write_sample",
]

#: Bumped whenever the generated records change, so cached copies are regenerated.
SAMPLE_FORMAT = 2

#: One prose unit in ``HELDOUT_EVERY`` (chosen by a CRC of its text) never enters the corpus:
#: it is the held-out English of :func:`eval_text`, the evaluation text of ablations.
HELDOUT_EVERY = 8

#: Share of each ``truth`` label; counts are apportioned exactly (largest remainder).
COMPOSITION: dict[str, float] = {
    "clean": 0.38,
    "exact_dup": 0.10,
    "near_dup": 0.08,
    "mojibake": 0.04,
    "non_english": 0.16,
    "boilerplate": 0.09,
    "link_list": 0.06,
    "keyword_spam": 0.04,
    "short": 0.05,
}
TRUTHS: tuple[str, ...] = tuple(COMPOSITION)

# ---------------------------------------------------------------------------------------------
# Source text
# ---------------------------------------------------------------------------------------------

#: Pure-Python standard library modules (all present on CPython 3.11+) whose docstrings are mined.
_STDLIB_MODULES: tuple[str, ...] = (
    "abc", "argparse", "ast", "asyncio.base_events", "asyncio.events", "asyncio.futures",
    "asyncio.locks", "asyncio.protocols", "asyncio.queues", "asyncio.streams",
    "asyncio.subprocess", "asyncio.tasks", "asyncio.transports", "base64", "bdb", "bisect",
    "calendar", "cmd", "code", "codecs", "codeop", "collections", "colorsys", "compileall",
    "concurrent.futures", "concurrent.futures.process", "concurrent.futures.thread",
    "configparser", "contextlib", "copy", "copyreg", "csv", "dataclasses", "difflib", "dis",
    "doctest", "email", "email.charset", "email.contentmanager", "email.feedparser",
    "email.generator", "email.header", "email.headerregistry", "email.iterators",
    "email.message", "email.mime.base", "email.parser", "email.policy", "email.utils", "enum",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "getopt", "getpass",
    "gettext", "glob", "graphlib", "gzip", "heapq", "hmac", "html", "html.parser", "http",
    "http.client", "http.cookiejar", "http.cookies", "http.server", "imaplib", "importlib",
    "importlib.abc", "importlib.machinery", "importlib.metadata", "importlib.resources",
    "importlib.util", "inspect", "ipaddress", "json", "json.decoder", "json.encoder", "keyword",
    "linecache", "locale", "logging", "logging.config", "logging.handlers", "mailbox",
    "mimetypes", "modulefinder", "multiprocessing", "multiprocessing.connection",
    "multiprocessing.managers", "multiprocessing.pool", "multiprocessing.process",
    "multiprocessing.queues", "multiprocessing.shared_memory", "multiprocessing.synchronize",
    "netrc", "numbers", "opcode", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pickletools", "pkgutil", "platform", "plistlib", "poplib", "posixpath", "pprint", "profile",
    "pstats", "py_compile", "pyclbr", "pydoc", "queue", "quopri", "random", "reprlib",
    "rlcompleter", "runpy", "sched", "secrets", "selectors", "shelve", "shlex", "shutil",
    "smtplib", "socketserver", "statistics", "string", "stringprep", "subprocess", "symtable",
    "sysconfig", "tabnanny", "tarfile", "tempfile", "textwrap", "threading", "timeit", "token",
    "tokenize", "trace", "traceback", "tracemalloc", "types", "typing", "unittest",
    "unittest.case", "unittest.loader", "unittest.main", "unittest.mock", "unittest.result",
    "unittest.runner", "unittest.suite", "urllib.error", "urllib.parse", "urllib.request",
    "urllib.response", "urllib.robotparser", "uuid", "warnings", "wave", "weakref",
    "webbrowser", "wsgiref.handlers", "wsgiref.headers", "wsgiref.simple_server",
    "wsgiref.util", "wsgiref.validate", "xml.dom", "xml.dom.minidom", "xml.dom.pulldom",
    "xml.etree.ElementTree", "xml.sax", "xml.sax.handler", "xml.sax.saxutils",
    "xml.sax.xmlreader", "xmlrpc.client", "xmlrpc.server", "zipapp", "zipfile", "zipimport",
    "zoneinfo",
)  # fmt: skip

# A sentence is dropped when it contains code-like symbols, a call, a dotted or camelCase name,
# or an ellipsis. Quoted words ("for") and curly apostrophes are fine in prose.
_CODE_LIKE = re.compile(
    r"[_=\{\}<>\[\]`*|\\#@$~^&%+;/]|\w\(|\w\.\w|\.\.\.|…|\b[a-z]+[A-Z]\w*\b|\b[A-Z]{2,}[a-z]"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_EMPHASIS = re.compile(r"\*(\w[^*\n]*?)\*")
_MARKUP_START = (">>>", "...", "-", "*", "+", "|", "..", ":", "=", "#", "$", "%")


def _prose_sentences(paragraph: str) -> list[str]:
    """Plain-prose sentences of one docstring/help paragraph (possibly none)."""
    lines = paragraph.strip("\n").split("\n")
    if any(line.lstrip().startswith(_MARKUP_START) for line in lines):
        return []
    text = " ".join(line.strip() for line in lines)
    text = _EMPHASIS.sub(r"\1", text)
    text = " ".join(text.split()).replace("e.g.", "for example").replace("i.e.", "that is")
    kept = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if (
            len(words) >= 5
            and sentence[0].isupper()
            and sentence.endswith((".", "!", "?"))
            and not _CODE_LIKE.search(sentence)
            and sum(any(c.isalpha() for c in w) for w in words) >= 0.9 * len(words)
            and 3.0 <= sum(map(len, words)) / len(words) <= 9.0
        ):
            kept.append(sentence)
    return kept


def _repetitive(words: list[str], n: int = 5, limit: float = 0.08) -> bool:
    """Whether repeated word ``n``-grams cover more than ``limit`` of the characters.

    Keeps out self-repeating paragraphs ("the triple for a directory is generated before ...
    the triple for a directory is generated after ...") that would trip Gopher's repetition rules
    in a short article.
    """
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts: dict[tuple[str, ...], int] = {}
    for gram in grams:
        counts[gram] = counts.get(gram, 0) + 1
    covered: set[int] = set()
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            covered.update(range(i, i + n))
    return sum(len(words[i]) for i in covered) > limit * sum(map(len, words))


def _docstrings(module: object) -> Iterator[object]:
    """Docstrings of a module, its public functions and classes and their methods, by name."""
    name = getattr(module, "__name__", "")
    yield getattr(module, "__doc__", None)
    for attr, obj in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(obj, "__module__", None) != name:
            continue
        if inspect.isclass(obj):
            yield obj.__doc__
            for member_name, member in sorted(vars(obj).items()):
                if member_name.startswith("__"):
                    continue
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if inspect.isfunction(member) or isinstance(member, property):
                    yield member.__doc__
        elif inspect.isfunction(obj):
            yield obj.__doc__


@lru_cache(maxsize=1)
def stdlib_units() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(topic, sentences)`` prose units mined from the standard library, in a fixed order.

    A unit is the prose that survives from one documentation paragraph (at least 12 words).
    Empty under ``python -OO`` if the help topics are missing too.
    """
    units: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()

    def add(topic: str, doc: object) -> None:
        if not isinstance(doc, str):
            return
        for paragraph in re.split(r"\n[ \t]*\n", inspect.cleandoc(doc)):
            sentences = tuple(s for s in _prose_sentences(paragraph) if s not in seen)
            words = " ".join(sentences).lower().split()
            if len(words) >= 12 and not _repetitive(words):
                seen.update(sentences)
                units.append((topic, sentences))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name in _STDLIB_MODULES:
            try:
                module = importlib.import_module(module_name)
            except Exception:  # a missing optional module only shrinks the pool
                continue
            for doc in _docstrings(module):
                add(module_name, doc)
        try:
            from pydoc_data.topics import topics
        except Exception:
            topics = {}
        for key in sorted(topics):
            add(key.replace("-", " "), topics[key])
    return tuple(units)


def _is_heldout(unit: tuple[str, tuple[str, ...]]) -> bool:
    return zlib.crc32(" ".join(unit[1]).encode("utf-8")) % HELDOUT_EVERY == 0


def _english_units() -> list[tuple[str, tuple[str, ...]]]:
    """Every English prose unit: stdlib paragraphs, then each hand-written sentence alone."""
    return list(stdlib_units()) + [("", (s,)) for s in _sentences()["en"]]


def eval_prose() -> str:
    """Held-out English in the corpus' register: the prose units no sample record contains.

    One paragraph per unit, separated by blank lines (one unit in ``HELDOUT_EVERY``, ~6,700
    words). It measures generalisation to sentences never trained on; with the sample's small
    pool of sentences, that is mostly a test of how well rare word pieces were learned.
    """
    units = [u for u in _english_units() if _is_heldout(u)]
    return "\n\n".join(" ".join(sentences) for _, sentences in units) + "\n"


def eval_articles(docs: int = 60, seed: int = 0) -> str:
    """Held-out clean articles: ``docs`` new articles of the ``clean`` kind, blank-line separated.

    Drawn by a generator of their own (seeded apart from every corpus), so no record contains
    them, but from the same pool of prose as the corpus' clean articles: they are to the sample
    what a crawl's unseen good pages are to a crawl, the distribution cleaning aims at. Being
    cut from the same sentences, they share sentences and some whole paragraphs (about 15 %)
    with training articles, as pages of one site share phrasing; :func:`eval_prose` does not.
    """
    gen = _Generator(f"eval/{seed}")
    return "\n\n".join(gen.clean_record()[0] for _ in range(docs)) + "\n"


EVAL_KINDS = {"articles": eval_articles, "prose": eval_prose}


def write_eval_text(path: str | Path, kind: str = "articles") -> int:
    """Write :func:`eval_articles` (or :func:`eval_prose`) to ``path``; return its word count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = EVAL_KINDS[kind]()
    path.write_text(text, encoding="utf-8")
    return len(text.split())


@lru_cache(maxsize=1)
def _sentences() -> dict:
    path = resources.files("corpusclean") / "data" / "sample_sentences.json"
    return json.loads(path.read_text(encoding="utf-8"))


#: Languages of the ``non_english`` records (fastText lid.176 labels).
LANGUAGES: tuple[str, ...] = (
    "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja", "ar", "pl", "sv", "tr", "ko", "el", "hi",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Vocabulary for titles, URLs and junk pages
# ---------------------------------------------------------------------------------------------

_SITES = (
    "dailynotes", "techjournal", "learnpython", "codingblog", "cityherald", "morningpost",
    "homeandgarden", "travelnotes", "devweekly", "readerscorner", "weekendreads", "softwarediary",
    "localnews", "kitchenstories", "docsdigest", "betterwriting", "slowliving", "thenewsroom",
    "fieldnotes", "openforum", "greenvalley", "brightside", "northstar", "citylife", "bytesized",
    "plainenglish", "longreads", "smalltownnews", "makersguild", "quietdesk",
)  # fmt: skip
_TLDS = ("com", "org", "net")

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

_NAMES = (
    "admin", "Sarah Miller", "James Carter", "Priya Shah", "Tom Evans", "Anna Novak", "editor",
)  # fmt: skip
_CATEGORIES = (
    "News", "Sports", "Business", "Technology", "Health", "Travel", "Food", "Lifestyle",
    "Opinion", "Entertainment", "Science", "Education", "Local", "World", "Weather",
)  # fmt: skip
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

_NAV = (
    "Home", "About", "About Us", "Contact", "Contact Us", "Blog", "News", "Shop", "Services",
    "Products", "Careers", "FAQ", "Help", "Support", "Login", "Sign In", "Register",
    "My Account", "Cart", "Checkout", "Search", "Events", "Gallery", "Team", "Pricing",
    "Resources", "Downloads", "Press", "Partners", "Sitemap",
)  # fmt: skip
_COOKIE = (
    "We use cookies to improve your experience on our website. By continuing to browse, you "
    "agree to our use of cookies.",
    "This website uses cookies to ensure you get the best experience on our website.",
    "We and our partners use cookies to personalise content and ads and to analyse our traffic.",
    "Accept all cookies", "Cookie settings", "Manage preferences", "Reject non-essential cookies",
    "Accept", "Learn more",
)  # fmt: skip
_JS = (
    "JavaScript is disabled in your browser.",
    "Please enable JavaScript to view this page.",
    "You need to enable JavaScript to run this app.",
    "Your browser does not support the video tag.",
    "This site works best with JavaScript enabled",
    "Please update your browser to view this website correctly",
)  # fmt: skip
_FOOTER = (
    "Privacy Policy", "Terms of Use", "Terms and Conditions", "Cookie Policy", "Accessibility",
    "All rights reserved.", "Powered by WordPress", "Back to top", "Follow us", "Facebook",
    "Twitter", "Instagram", "LinkedIn", "YouTube", "Subscribe to our newsletter",
    "Enter your email address", "Subscribe", "Site map", "Imprint",
    "Do not sell my personal information", "Contact us", "Advertise with us",
)  # fmt: skip
_MISC = (
    "Skip to navigation", "Menu", "Close", "Search", "Search for:", "Toggle navigation",
    "Loading...", "Read more", "Share", "Print", "Previous", "Next", "Recent Posts",
    "Categories", "Archives", "Tags", "Popular", "Uncategorized", "Leave a comment",
    "Log in", "Entries feed", "Comments feed", "Select language", "English", "Deutsch",
    "Français", "Español", "Related articles", "Trending now", "Most read", "Sponsored",
    "Advertisement", "Show more", "View all",
)  # fmt: skip

_CITIES = (
    "Paris", "London", "Rome", "Berlin", "Madrid", "Lisbon", "Amsterdam", "Prague", "Vienna",
    "Dublin", "New York", "Chicago", "Toronto", "Sydney", "Tokyo", "Bangkok", "Dubai",
    "Barcelona", "Istanbul", "Athens",
)  # fmt: skip
_PRODUCTS = (
    "running shoes", "laptops", "headphones", "coffee machines", "office chairs", "smartphones",
    "car insurance", "garden furniture", "winter jackets", "gaming mice", "air fryers",
    "mattresses", "electric bikes", "watches", "sunglasses", "baby strollers", "tablets",
    "printer ink", "vacuum cleaners", "kitchen knives",
)  # fmt: skip
_THINGS = (
    "music", "movies", "ebooks", "games", "wallpapers", "fonts", "ringtones", "templates",
    "software", "antivirus",
)  # fmt: skip
_TASKS = (
    "lose weight fast", "make money online", "save on energy bills", "fix a slow computer",
    "get more followers", "learn guitar", "find cheap flights", "clean your oven",
    "start a blog", "grow tomatoes", "pass your driving test", "improve your credit score",
)  # fmt: skip
_LINK_TITLES = (
    "Best cheap flights to {city}", "Top {n} hotels in {city}", "{city} travel guide",
    "Cheap car hire in {city}", "{city} weather forecast", "Things to do in {city}",
    "Buy {product} online", "Cheap {product} deals", "{Product} reviews and prices",
    "Best {product} {year}", "Free {thing} download", "How to {task}", "{n} ways to {task}",
    "Download {thing} for free", "{Product} discount codes", "{Product} on sale",
)  # fmt: skip
_LINK_HEADERS = (
    "Useful links", "Popular searches", "Related searches", "Sitemap", "Links", "Top searches",
    "Partner sites", "Recommended", "Quick links",
)  # fmt: skip

_SPAM_THEMES: tuple[tuple[str, ...], ...] = (
    ("cheap viagra", "buy viagra online", "viagra without prescription", "generic cialis",
     "cheap cialis online", "online pharmacy"),
    ("payday loans", "fast cash loans", "no credit check loans", "instant loan approval",
     "bad credit loans"),
    ("replica watches", "cheap rolex", "luxury watches sale", "swiss replica watches"),
    ("online casino", "casino bonus", "free spins", "best online slots", "real money casino"),
    ("cheap flights", "cheap hotels", "last minute deals", "discount airline tickets"),
    ("weight loss pills", "lose weight fast", "diet pills", "fat burner"),
    ("seo services", "cheap backlinks", "buy backlinks", "rank higher on google"),
)  # fmt: skip
_SPAM_MODIFIERS = (
    "buy", "cheap", "best", "online", "now", "free", "discount", "top", "sale", "order",
    "lowest price", "2024", "fast", "official",
)  # fmt: skip

_SHORT = (
    "404 Not Found", "Page not found", "Loading...", "Please wait...", "Access Denied",
    "403 Forbidden", "Coming soon!", "Under construction", "This site can't be reached",
    "Redirecting...", "Error 503 Service Unavailable", "Your cart is empty.", "No results found.",
    "Sign in to continue", "Enable JavaScript to continue", "Hello world!", "Test page",
    "Maintenance mode", "Session expired. Please log in again.", "Out of stock", "502 Bad Gateway",
    "Thank you for your order!", "Click here to continue", "Index of /", "Domain for sale",
    "It works!", "Nothing here yet.", "Account suspended", "Page moved", "Untitled",
)  # fmt: skip

_HEADERS = (
    "Posted by {name} on {date}", "Last updated: {date}", "Skip to content", "Share this article",
    "{category} | {date}", "By {name}", "Home > {category}", "Advertisement",
)  # fmt: skip
_FOOTERS = (
    "Share this: Facebook Twitter Email", "Related posts", "Filed under {category}",
    "Comments are closed.", "Subscribe to our newsletter for weekly updates.",
    "© {year} {site}. All rights reserved.", "Tags: {category}, {category2}", "Back to top",
    "Leave a reply", "Print this page",
)  # fmt: skip

# windows-1252 as browsers decode it: the five undefined bytes fall back to latin-1 (C1 controls).
_SLOPPY_1252 = str.maketrans(
    {
        b: bytes([b]).decode("cp1252")
        for b in range(0x80, 0xA0)
        if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
    }
)
# Escape C1 controls and the Unicode line separators in JSON output so that line-splitting
# readers (str.splitlines treats U+0085 and U+2028 as line breaks) see one record per line.
_JSON_ESCAPES = str.maketrans({c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)})


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


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


def _plan(docs: int, seed: int) -> list[str]:
    """The shuffled ``truth`` sequence: exact counts, and no copy before the first clean record."""
    quotas = {t: docs * share for t, share in COMPOSITION.items()}
    counts = {t: int(q) for t, q in quotas.items()}
    by_remainder = sorted(TRUTHS, key=lambda t: (-(quotas[t] - counts[t]), TRUTHS.index(t)))
    for t in by_remainder[: docs - sum(counts.values())]:
        counts[t] += 1
    labels = [t for t in TRUTHS for _ in range(counts[t])]
    Random(f"corpusclean.sample/{seed}/plan").shuffle(labels)
    copies = ("exact_dup", "near_dup")
    first_copy = next((i for i, t in enumerate(labels) if t in copies), None)
    first_clean = next((i for i, t in enumerate(labels) if t == "clean"), None)
    if first_copy is not None:
        if first_clean is None:
            labels = ["clean" if t in copies else t for t in labels]
        elif first_clean > first_copy:
            labels[first_copy], labels[first_clean] = labels[first_clean], labels[first_copy]
    return labels


def _slug(text: str, max_len: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len].rstrip("-") or "page"


class _Generator:
    def __init__(self, seed: int | str) -> None:
        self.rng = Random(f"corpusclean.sample/{seed}/text")
        data = _sentences()
        self.accented: list[str] = data["en_accented"]
        self.languages: dict[str, list[str]] = data["languages"]
        # Held-out units are the evaluation text (eval_text), never corpus material.
        self.units = [u for u in _english_units() if not _is_heldout(u)]
        self.deck: list[int] = []
        self.pending: list[tuple[str, str]] = []
        self.seen_lines: set[str] = set()
        self.clean: list[tuple[str, str, str]] = []  # (id, text, url) of clean records
        self.popular: list[int] = []  # indices into clean, once per exact copy (rich get richer)

    # -- English articles -------------------------------------------------------------------

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
            title += f" | {rng.choice(_SITES).title()}"
        return title

    def _article(self) -> tuple[str, list[str]]:
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

    # -- URLs ---------------------------------------------------------------------------------

    def _host(self) -> str:
        return f"{self.rng.choice(_SITES)}.example.{self.rng.choice(_TLDS)}"

    def _article_url(self, title: str) -> str:
        rng = self.rng
        slug = _slug(title.split(" | ")[0])
        style = rng.random()
        if style < 0.5:
            path = f"/{rng.randint(2012, 2024)}/{rng.randint(1, 12):02d}/{slug}"
        elif style < 0.8:
            path = f"/blog/{slug}"
        else:
            path = f"/articles/{rng.randint(1000, 99999)}-{slug}"
        return f"https://{self._host()}{path}"

    def _copy_url(self, url: str) -> str:
        """A syndicated/mirrored address for a copy of the page at ``url``."""
        rng = self.rng
        path = url.split("/", 3)[3]
        style = rng.random()
        if style < 0.5:
            return f"https://{self._host()}/{path}"
        if style < 0.75:
            return f"{url}?utm_source={rng.choice(('feed', 'twitter', 'newsletter'))}"
        return f"{url}/amp"

    # -- record builders ------------------------------------------------------------------------

    def clean_record(self) -> tuple[str, str]:
        title, lines = self._article()
        return title + "\n\n" + "\n\n".join(lines), self._article_url(title)

    def exact_dup(self) -> tuple[str, str, str]:
        rng = self.rng
        if self.popular and rng.random() < 0.3:
            index = rng.choice(self.popular)
        else:
            index = rng.randrange(len(self.clean))
        self.popular.append(index)
        source_id, text, url = self.clean[index]
        return text, self._copy_url(url), source_id

    def near_dup(self) -> tuple[str, str, str]:
        rng = self.rng
        source_id, text, url = self.clean[rng.randrange(len(self.clean))]
        mode = rng.random()
        if mode < 0.55:
            text = self._edit_words(text, rng.uniform(0.005, 0.025))
        elif mode < 0.85:
            text = self._frame(text)
        else:
            text = self._frame(self._edit_words(text, rng.uniform(0.003, 0.012)))
        return text, self._copy_url(url), source_id

    def _edit_words(self, text: str, rate: float) -> str:
        """Substitute, delete or insert about ``rate`` of the words (at least one edit)."""
        rng = self.rng
        lines = [line.split(" ") if line else [] for line in text.split("\n")]
        positions = [(i, j) for i, words in enumerate(lines) for j in range(len(words))]
        vocabulary = [w for words in lines for w in words]
        chosen = rng.sample(positions, max(1, round(rate * len(positions))))
        for i, j in sorted(chosen, reverse=True):
            op = rng.random()
            if op < 0.45:
                replacement = rng.choice(vocabulary)
                if replacement == lines[i][j]:
                    replacement = rng.choice(("very", "also", "often", "still", "simply"))
                lines[i][j] = replacement
            elif op < 0.75 and len(lines[i]) > 1:
                del lines[i][j]
            else:
                lines[i].insert(j, rng.choice(vocabulary))
        return "\n".join(" ".join(words) for words in lines)

    def _fill(self, template: str) -> str:
        rng = self.rng
        category, category2 = rng.sample(_CATEGORIES, 2)
        day, month, year = rng.randint(1, 28), rng.choice(_MONTHS), rng.randint(2012, 2024)
        return template.format(
            name=rng.choice(_NAMES), date=f"{month} {day}, {year}", category=category,
            category2=category2, year=year, site=rng.choice(_SITES).title(),
        )  # fmt: skip

    def _frame(self, text: str) -> str:
        """Add a short header and/or footer (at most about 10 % of the words)."""
        rng = self.rng
        budget = max(6, len(text.split()) // 10)
        header: list[str] = []
        footer: list[str] = []
        for _ in range(rng.randint(1, 4)):
            on_top = rng.random() < 0.4
            line = self._fill(rng.choice(_HEADERS if on_top else _FOOTERS))
            if len(line.split()) > budget:
                break
            if line in header or line in footer:
                continue
            budget -= len(line.split())
            (header if on_top else footer).append(line)
        if not header and not footer:
            footer.append("Related posts")
        return "\n".join([*header, text, *footer])

    def mojibake(self) -> tuple[str, str, str, str]:
        rng = self.rng
        title, lines = self._article()
        lines = [self._curl(line) for line in lines]
        for sentence in rng.sample(self.accented, rng.randint(2, 4)):
            k = rng.randrange(len(lines))
            lines[k] = f"{lines[k]} {sentence}"
        original = title + "\n\n" + "\n\n".join(lines)
        encoding = "windows-1252" if rng.random() < 0.8 else "latin-1"
        garbled = original.encode("utf-8").decode("latin-1")
        if encoding == "windows-1252":
            garbled = garbled.translate(_SLOPPY_1252)
        return garbled, self._article_url(title), original, encoding

    @staticmethod
    def _curl(line: str) -> str:
        line = re.sub(r"(?<=[A-Za-z])'(?=[A-Za-z])", "’", line)
        line = re.sub(r'"([^"\n]{1,80}?)"', r"“\1”", line)
        return line.replace(" - ", " — ")

    def non_english(self) -> tuple[str, str, str]:
        rng = self.rng
        lang = rng.choice(LANGUAGES)
        pool = self.languages[lang]
        sizes = [rng.randint(3, 8) for _ in range(rng.randint(1, 4))]
        chosen = rng.sample(pool, min(sum(sizes), len(pool)))
        joiner = "" if lang in ("zh", "ja") else " "
        paragraphs = []
        for size in sizes:
            paragraphs.append(joiner.join(chosen[:size]))
            chosen = chosen[size:]
        text = "\n\n".join(p for p in paragraphs if p)
        url = f"https://{self._host()}/{lang}/{rng.choice(('artikel', 'post', 'p', 'news'))}/"
        return text, url + str(rng.randint(100, 99999)), lang

    def boilerplate(self) -> tuple[str, str]:
        rng = self.rng
        site = rng.choice(_SITES).title()
        nav = " | ".join(rng.sample(_NAV, rng.randint(4, 8)))
        lines = ["Skip to main content"] if rng.random() < 0.6 else []
        lines += [site, nav]
        if rng.random() < 0.5:
            lines.append(" » ".join(["Home", *rng.sample(_CATEGORIES, rng.randint(1, 2))]))
        body = [rng.choice(_MISC + _CATEGORIES) for _ in range(rng.randint(10, 90))]
        for _ in range(rng.randint(0, 12)):
            body.append(f"{rng.choice(_MONTHS)} {rng.randint(2012, 2024)}")
        if rng.random() < 0.7:
            body += rng.sample(_COOKIE, rng.randint(1, 3))
        if rng.random() < 0.5:
            body += rng.sample(_JS, rng.randint(1, 2))
        rng.shuffle(body)
        lines += body
        footer = rng.sample(_FOOTER, rng.randint(3, 8))
        lines += [" | ".join(footer)] if rng.random() < 0.5 else footer
        lines.append(f"© {rng.randint(2005, 2024)} {site}. All rights reserved.")
        if rng.random() < 0.5:
            lines.append(nav)
        path = rng.choice(("", "about", "contact", "privacy-policy", "category/news/page/3", "tag"))
        return "\n".join(lines), f"https://{self._host()}/{path}"

    def _link_title(self) -> str:
        rng = self.rng
        product = rng.choice(_PRODUCTS)
        return rng.choice(_LINK_TITLES).format(
            city=rng.choice(_CITIES), n=rng.randint(3, 25), product=product,
            Product=product.capitalize(), year=rng.randint(2015, 2024), thing=rng.choice(_THINGS),
            task=rng.choice(_TASKS),
        )  # fmt: skip

    def link_list(self) -> tuple[str, str]:
        rng = self.rng
        host = self._host()
        style = rng.randrange(5)
        lines = [rng.choice(_LINK_HEADERS)]
        for i in range(rng.randint(15, 150)):
            title = self._link_title()
            link = f"https://{host if rng.random() < 0.6 else self._host()}/{_slug(title)}"
            lines.append(
                (
                    f"{title} - {link}",
                    f"{title} | {rng.choice(_SITES).title()}",
                    title,
                    f"» {title}",
                    f"{i + 1}. {title} ({link})",
                )[style if rng.random() < 0.85 else rng.randrange(5)]
            )
        path = rng.choice(("links", "directory", "sitemap", "resources", "tag/deals"))
        return "\n".join(lines), f"https://{host}/{path}"

    def keyword_spam(self) -> tuple[str, str]:
        rng = self.rng
        theme = rng.choice(_SPAM_THEMES)
        main = theme[0] if rng.random() < 0.5 else rng.choice(theme)
        target = rng.randint(100, 1000)
        words: list[str] = []
        while len(words) < target:
            phrase = main if rng.random() < 0.5 else rng.choice(theme)
            if rng.random() < 0.4:
                phrase = f"{rng.choice(_SPAM_MODIFIERS)} {phrase}"
            if rng.random() < 0.2:
                phrase = f"{phrase} {rng.choice(_SPAM_MODIFIERS)}"
            words += phrase.split()
        lines = [f"{main.title()} - Best Prices{rng.choice(('!', '!!!', '', ' Guaranteed'))}"]
        while words:
            size = rng.randint(8, 20)
            line = " ".join(words[:size])
            words = words[size:]
            lines.append(line + rng.choice(("", "", "!", "!!!", ".")))
        path = f"/{_slug(main)}{rng.choice(('.html', '', '-online', '/'))}"
        return "\n".join(lines), f"https://{self._host()}{path}"

    def short(self) -> tuple[str, str]:
        rng = self.rng
        text = rng.choice(_SHORT)
        if rng.random() < 0.25:
            extra = rng.choice(_SHORT)
            if len(text.split()) + len(extra.split()) <= 10 and extra != text:
                text = f"{text}\n{extra}"
        path = rng.choice(("404", "loading", "cart", "login", "index.html", "old-page", ""))
        return text, f"https://{self._host()}/{path}"


def generate_annotated(
    docs: int = 2000, seed: int = 0
) -> Iterator[tuple[dict[str, str], SampleNote]]:
    """Like :func:`generate_sample`, with a :class:`SampleNote` beside each record."""
    if docs < 0:
        raise ValueError(f"docs must be >= 0, got {docs}")
    gen = _Generator(seed)
    for i, truth in enumerate(_plan(docs, seed)):
        doc_id = f"doc-{i:06d}"
        note = SampleNote(truth)
        if truth == "clean":
            text, url = gen.clean_record()
            gen.clean.append((doc_id, text, url))
        elif truth == "exact_dup":
            text, url, source = gen.exact_dup()
            note = SampleNote(truth, source_id=source)
        elif truth == "near_dup":
            text, url, source = gen.near_dup()
            note = SampleNote(truth, source_id=source)
        elif truth == "mojibake":
            text, url, original, encoding = gen.mojibake()
            note = SampleNote(truth, original=original, encoding=encoding)
        elif truth == "non_english":
            text, url, lang = gen.non_english()
            note = SampleNote(truth, lang=lang)
        elif truth == "boilerplate":
            text, url = gen.boilerplate()
        elif truth == "link_list":
            text, url = gen.link_list()
        elif truth == "keyword_spam":
            text, url = gen.keyword_spam()
        else:
            text, url = gen.short()
        yield {"id": doc_id, "url": url, "text": text, "truth": truth}, note


def generate_sample(docs: int = 2000, seed: int = 0) -> Iterator[dict[str, str]]:
    """Yield ``docs`` records ``{"id", "url", "text", "truth"}`` of the embedded sample corpus.

    Deterministic in ``(docs, seed)``; see the module docstring for the composition.
    """
    for record, _ in generate_annotated(docs, seed):
        yield record


def write_sample(path: str | Path, docs: int = 2000, seed: int = 0) -> int:
    """Write the sample as JSON lines to ``path``; return the number of records.

    Gzip when the name ends in ``.gz`` (``mtime=0``, no file name: byte-identical reruns), zstd
    when it ends in ``.zst``, plain UTF-8 otherwise. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with contextlib.ExitStack() as stack:
        out: BinaryIO = stack.enter_context(open(path, "wb"))
        if path.name.endswith(".gz"):
            out = stack.enter_context(
                gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6)
            )
        elif path.name.endswith(".zst"):
            import zstandard

            writer = zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False)
            out = stack.enter_context(writer)
        batch: list[str] = []
        for record in generate_sample(docs, seed):
            batch.append(json.dumps(record, ensure_ascii=False).translate(_JSON_ESCAPES))
            count += 1
            if len(batch) == 256:
                out.write(("\n".join(batch) + "\n").encode("utf-8"))
                batch.clear()
        if batch:
            out.write(("\n".join(batch) + "\n").encode("utf-8"))
    return count


def main(argv: list[str] | None = None) -> int:
    """``python -m corpusclean.sample OUTPUT [--docs N] [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m corpusclean.sample", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("output")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n = write_sample(args.output, docs=args.docs, seed=args.seed)
    print(f"wrote {n} records to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
