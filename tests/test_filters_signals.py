"""``keep_signals``: the columns a filter adds are exactly the ones ``corpusclean steps``
documents in that option's help, and none is left behind without it.

Every registered step with a ``keep_signals`` option takes part, found in the registry
(``corpusclean.steps.STEPS``), so that a new filter cannot escape these tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.steps import STEPS

SIGNAL_STEPS = sorted(
    name for name, step in STEPS.items() if "keep_signals" in step.Options.model_fields
)
TEXT = (
    "The library lends books, maps and records to readers of every age. "
    "Its staff catalogue new arrivals and answer questions.\n"
) * 6


@pytest.fixture(scope="module")
def needs(small_tokenizer: Path) -> dict[str, dict[str, object]]:
    """Options a step cannot run without outside the engine (whose ``bind`` fills them in)."""
    return {"min_tokens": {"tokenizer": str(small_tokenizer)}}


def test_signal_steps_are_found() -> None:
    assert {"gopher_quality", "gopher_repetition", "c4_quality", "html_tags"} <= set(SIGNAL_STEPS)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_signal_columns_come_with_keep_signals(name: str) -> None:
    """A step declares signal columns if and only if it has the option that keeps them."""
    step_class = STEPS[name]
    assert bool(step_class.signal_columns) == ("keep_signals" in step_class.Options.model_fields)


@pytest.mark.parametrize("name", SIGNAL_STEPS)
def test_signal_columns_are_documented_and_added(
    name: str, needs: dict[str, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    step_class = STEPS[name]
    given = needs.get(name, {})
    frame = pl.DataFrame({"id": ["a", "b"], "text": [TEXT, "<div>short</div>"]})
    kept = step_class(step_class.Options(keep_signals=True, **given)).apply(frame).frame
    added = [c for c in kept.columns if c not in frame.columns]
    assert added == list(step_class.signal_columns) and added
    plain = step_class(step_class.Options(**given)).apply(frame).frame
    assert plain.columns == frame.columns
    assert main(["steps", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)[name]
    assert entry["adds_columns"] == []  # nothing by default
    help_text = entry["options"]["keep_signals"]["help"]
    # gopher_repetition's n-gram columns follow its n-gram maps: named by pattern
    assert all(re.sub(r"_\d+_", "_{n}_", c) in help_text for c in added)
