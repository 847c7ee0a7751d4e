"""The command line's argument conventions (docs/contract.md, "Commands")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusclean.cli import build_parser, main

RULES = """\
version: 1
name: cli_inputs
steps:
  - length: {min_words: 3}
"""


def _write_jsonl(path: Path, texts: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"{path.stem}-{i}", "text": text}) + "\n")
    return path


@pytest.mark.parametrize("command", ["run", "ablate"])
def test_input_takes_several_paths_and_repeats(command: str) -> None:
    extra = ["--eval", "e.txt", "--out", "o"] if command == "ablate" else []
    args = build_parser().parse_args(
        [command, "r.yaml", "--input", "a.jsonl", "b.jsonl", "--input", "c.jsonl", *extra]
    )
    assert args.input == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_run_reads_every_file_after_one_input_flag(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    a = _write_jsonl(tmp_path / "a.jsonl", ["one two three four", "too short"])
    b = _write_jsonl(tmp_path / "b.jsonl", ["five six seven eight", "nine ten eleven"])
    c = _write_jsonl(tmp_path / "c.jsonl", ["x"])
    out = tmp_path / "out"
    code = main(
        ["run", str(rules), "--input", str(a), str(b), "--input", str(c)]
        + ["--output", str(out), "--workers", "1", "--quiet"]
    )
    assert code == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input_docs"] == 5
    assert stats["kept_docs"] == 3
    assert sum(stats["rejected"].values()) == 2
