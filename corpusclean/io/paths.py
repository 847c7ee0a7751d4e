"""Which files are inputs: format detection by file name, and globs / folders to file lists.

The format is chosen by extension (case-insensitive; the table is in :mod:`corpusclean.io`), so
that a folder or glob of mixed files can be expanded without opening any of them.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from corpusclean.io.records import InputError

# suffix -> (kind, compression)
_FORMATS: dict[str, tuple[str, str | None]] = {
    ".jsonl": ("jsonl", None),
    ".ndjson": ("jsonl", None),
    ".jsonl.gz": ("jsonl", "gzip"),
    ".ndjson.gz": ("jsonl", "gzip"),
    ".json.gz": ("jsonl", "gzip"),
    ".jsonl.zst": ("jsonl", "zstd"),
    ".ndjson.zst": ("jsonl", "zstd"),
    ".json.zst": ("jsonl", "zstd"),
    ".parquet": ("parquet", None),
    ".txt": ("txt", None),
    ".wet": ("wet", None),
    ".wet.gz": ("wet", "gzip"),
    ".warc": ("warc", None),
    ".warc.gz": ("warc", "gzip"),
    ".html": ("html", None),
    ".htm": ("html", None),
}
#: Formats whose batches carry the web columns (``records.WEB_COLUMNS``).
WEB_KINDS: tuple[str, ...] = ("warc", "html")
#: File name endings accepted by :func:`expand_inputs` and :func:`read_batches`.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_FORMATS, key=lambda s: (-len(s), s)))


def input_format(path: str | os.PathLike[str]) -> tuple[str, str | None] | None:
    """``(kind, compression)`` for a supported file name, else None.

    kind is ``jsonl``, ``parquet``, ``txt``, ``wet``, ``warc`` or ``html``; compression
    ``gzip``, ``zstd`` or None.
    """
    name = os.path.basename(os.fspath(path)).lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return _FORMATS[suffix]
    return None


def unsupported_file_error(path: str) -> InputError:
    return InputError(
        f"unsupported input file type: {path} (supported: {', '.join(sorted(_FORMATS))})"
    )


def _walk_dir(root: str) -> list[str]:
    """Supported files under ``root``, recursively, skipping hidden files and folders."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and input_format(name) is not None:
                found.append(os.path.join(dirpath, name))
    return found


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Resolve input patterns to a sorted, de-duplicated list of supported files.

    Each pattern is a glob (``*``, ``?``, ``[...]``; ``**`` is recursive), a file or a
    directory (every supported file inside, recursively, hidden entries skipped). Files that a
    glob matches but that have an unsupported extension are skipped; a plain file path with an
    unsupported extension is an error. The result is sorted by path string; the same file
    reached twice (even through a symlink) is listed once.

    Raises :class:`InputError` naming the first missing path, unsupported file, or glob /
    directory that yields no supported file.
    """
    if isinstance(patterns, str | os.PathLike):
        patterns = [os.fspath(patterns)]
    found: list[str] = []
    for raw_pattern in patterns:
        pattern = os.fspath(raw_pattern)
        if any(c in pattern for c in "*?["):
            matches: list[str] = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                if os.path.isdir(match):
                    matches.extend(_walk_dir(match))
                elif os.path.isfile(match) and input_format(match) is not None:
                    matches.append(match)
            if not matches:
                raise InputError(f"no supported input file matches: {pattern}")
            found.extend(matches)
        elif os.path.isdir(pattern):
            files = _walk_dir(pattern)
            if not files:
                raise InputError(f"no supported input file in directory: {pattern}")
            found.extend(files)
        elif os.path.isfile(pattern):
            if input_format(pattern) is None:
                raise unsupported_file_error(pattern)
            found.append(pattern)
        else:
            raise InputError(f"input not found: {pattern}")
    seen: set[str] = set()
    result: list[Path] = []
    for path in sorted((Path(name) for name in found), key=str):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result
