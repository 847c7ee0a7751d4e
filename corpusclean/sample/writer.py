"""Writing the sample as JSON lines, byte-identical from run to run.

Gzip with ``mtime=0`` and no file name, zstd single-threaded, or plain UTF-8; C1 controls and the
Unicode line separators are escaped so that every reader sees one record per line.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path
from typing import BinaryIO

from corpusclean.sample.records import generate_sample

#: Bumped whenever the generated records change, so cached copies are regenerated.
SAMPLE_FORMAT = 2

# Escape C1 controls and the Unicode line separators in JSON output so that line-splitting
# readers (str.splitlines treats U+0085 and U+2028 as line breaks) see one record per line.
_JSON_ESCAPES = str.maketrans({c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)})


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
