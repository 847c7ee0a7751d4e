"""``errors/part-0000003-0000042.jsonl``: the records a batch could not give, one JSON per line.

An :class:`~corpusclean.io.records.ErrorRecord` is counted, never silently dropped: each batch
with reader errors gets an errors part under its sequence number (file, line, offset, error,
raw; non-ASCII kept as it is), so the errors of a run can be traced back to their input.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from corpusclean.io.parts import part_name
from corpusclean.io.records import ErrorRecord


def write_errors(output: Path, seq: int, errors: list[ErrorRecord]) -> None:
    """Write ``output/errors/part-{seq}.jsonl``."""
    path = output / "errors" / part_name(seq, "jsonl")
    with path.open("w", encoding="utf-8") as fh:
        for error in errors:
            fh.write(json.dumps(asdict(error), ensure_ascii=False) + "\n")
