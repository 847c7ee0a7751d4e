"""``keep_signals``: the columns a filter adds are exactly the ones ``corpusclean steps``
documents in that option's help, and none is left behind without it."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.steps import STEPS

FILTERS = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality", "html_tags"]
TEXT = (
    "The library lends books, maps and records to readers of every age. "
    "Its staff catalogue new arrivals and answer questions.\n"
) * 6


@pytest.mark.parametrize("name", FILTERS)
def test_signal_columns_are_documented_and_added(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    step_class = STEPS[name]
    frame = pl.DataFrame({"id": ["a", "b"], "text": [TEXT, "<div>short</div>"]})
    kept = step_class(step_class.Options(keep_signals=True)).apply(frame).frame
    added = [c for c in kept.columns if c not in frame.columns]
    assert added == list(step_class.signal_columns) and added
    plain = step_class(step_class.Options()).apply(frame).frame
    assert plain.columns == frame.columns
    assert main(["steps", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)[name]
    assert entry["adds_columns"] == []  # nothing by default
    help_text = entry["options"]["keep_signals"]["help"]
    # gopher_repetition's n-gram columns follow its n-gram maps: named by pattern
    assert all(re.sub(r"_\d+_", "_{n}_", c) in help_text for c in added)
