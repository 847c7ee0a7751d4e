"""Where every random draw of the sample comes from: ``random.Random`` seeded by strings.

Everything is drawn from ``random.Random`` instances seeded from ``(seed, purpose)`` strings, never
from the global generator or ``hash()``: the same ``docs`` and ``seed`` give the same records and
byte-identical files (gzip with ``mtime=0`` and no file name; zstd single-threaded). The sequence
of ``truth`` labels depends on ``docs`` and ``seed`` only (purpose ``plan``). The text of every
record is drawn from one generator (purpose ``text``) in record order, so moving or reordering a
draw changes the sample; the English text also depends on the Python minor version, whose
docstrings differ slightly.
"""

from __future__ import annotations

from random import Random


def seeded(seed: int | str, purpose: str) -> Random:
    """The generator for one ``purpose`` (``plan``, ``text``) of the sample drawn with ``seed``.

    The ``corpusclean.sample`` prefix is part of the seed string, not a module path: changing it
    would change every sample.
    """
    return Random(f"corpusclean.sample/{seed}/{purpose}")
