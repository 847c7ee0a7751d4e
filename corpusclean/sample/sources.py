"""Where the sample's text comes from: standard-library docstrings and hand-written sentences.

corpusclean must run end to end on a fresh machine with no data and no network, so the sample is
built from text that is present wherever Python runs.

English prose
-------------
Prose sentences are mined from the standard library: docstrings of a fixed, sorted list of
pure-Python modules (present on 3.11+) and the ``pydoc_data`` help topics (the language
reference). Paragraphs with code are skipped (indented blocks, ``>>>`` prompts, reST markup) and
so is every sentence with code-like symbols, so what remains reads as plain documentation prose.
About a hundred hand-written everyday sentences (``data/sample_sentences.json``) are mixed in;
they are also the whole source under ``python -OO``, where docstrings are stripped. The English
text therefore depends on the Python minor version, whose docstrings differ slightly.

The docstrings are mined in a fresh interpreter (a child process of the same Python, with the
same module path and optimisation level), never in the calling process: libraries replace
standard-library functions when they are imported (``torch.package`` swaps in its own
``inspect.getfile``), so mining in a process that had imported torch gave a different pool,
and ``corpusclean demo`` (which imports the trainer first) wrote a different sample than
``corpusclean run`` under the same cache name.

The unit of prose is the ``(topic, sentences)`` that survives from one documentation paragraph
(each hand-written sentence is a unit of its own). One unit in ``HELDOUT_EVERY``, chosen by a CRC
of its text so the choice is stable, never enters the corpus: it is the held-out English of
:func:`corpusclean.sample.eval_text.eval_prose`.

Hand-written sentences
----------------------
``data/sample_sentences.json`` also holds English sentences with non-ASCII characters (seeded
into mojibake records before garbling) and everyday sentences in 16 other languages keyed by
their fastText lid.176 label (the ``non_english`` records).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import warnings
import zlib
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

#: A prose unit: the topic it documents ("" for hand-written sentences) and its sentences.
ProseUnit = tuple[str, tuple[str, ...]]

#: One prose unit in ``HELDOUT_EVERY`` (chosen by a CRC of its text) never enters the corpus:
#: it is the held-out English of ``eval_prose``, the evaluation text of ablations.
HELDOUT_EVERY = 8

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
def stdlib_units() -> tuple[ProseUnit, ...]:
    """``(topic, sentences)`` prose units mined from the standard library, in a fixed order.

    Mined by :func:`mine_stdlib_units` in a child interpreter, so that what this process has
    imported (and patched) cannot change the pool (see the module docstring).
    """
    flags = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
    program = (
        "import json, sys\n"
        "from corpusclean.sample.sources import mine_stdlib_units\n"
        "json.dump(mine_stdlib_units(), sys.stdout)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, *flags, "-c", program],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mining the standard library's docstrings failed:\n{done.stderr}")
    return tuple((topic, tuple(sentences)) for topic, sentences in json.loads(done.stdout))


def mine_stdlib_units() -> tuple[ProseUnit, ...]:
    """The units of :func:`stdlib_units`, mined in this process (call it in a fresh one).

    A unit is the prose that survives from one documentation paragraph (at least 12 words).
    Empty under ``python -OO`` if the help topics are missing too.
    """
    units: list[ProseUnit] = []
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


@lru_cache(maxsize=1)
def hand_written_sentences() -> dict[str, Any]:
    """``data/sample_sentences.json``: ``en``, ``en_accented`` and ``languages`` (lid.176 label ->
    sentences)."""
    path = resources.files("corpusclean") / "data" / "sample_sentences.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _is_heldout(unit: ProseUnit) -> bool:
    return zlib.crc32(" ".join(unit[1]).encode("utf-8")) % HELDOUT_EVERY == 0


def english_units() -> list[ProseUnit]:
    """Every English prose unit: stdlib paragraphs, then each hand-written sentence alone."""
    return list(stdlib_units()) + [("", (s,)) for s in hand_written_sentences()["en"]]


def corpus_units() -> list[ProseUnit]:
    """The English prose units the corpus' articles are cut from (all but the held-out ones)."""
    return [u for u in english_units() if not _is_heldout(u)]


def heldout_units() -> list[ProseUnit]:
    """The English prose units no record contains (one in ``HELDOUT_EVERY``)."""
    return [u for u in english_units() if _is_heldout(u)]
