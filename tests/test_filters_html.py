"""html_tags: real markup is found and named, look-alikes are not."""

from __future__ import annotations

import polars as pl
import pytest

from corpusclean.steps import STEPS


def _run(texts: list[str], **options: object) -> list[str | None]:
    step = STEPS["html_tags"](STEPS["html_tags"].Options(**options))
    result = step.apply(pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}))
    assert result.frame.columns == ["id", "text"]
    assert result.reject is not None
    return result.reject.to_list()


@pytest.mark.parametrize(
    "text, found",
    [
        ("<p>Hello</p>", "<p>"),
        ("see <a href='x.html'>this</a>", "<a href='x.html'>"),
        ("closing only </div> here", "</div>"),
        ("<!-- a comment --> text", "<!-- a comment -->"),
        ("<!DOCTYPE html>\n<html>", "<!DOCTYPE html>"),
        ("line<br/>break and <BR>", "<br/>"),
        ('<img src="x.png" />', '<img src="x.png" />'),
        ('<DIV CLASS="nav"\n  id="top">', '<DIV CLASS="nav" id="top">'),
        ("a<i>b</i>", "<i>"),
    ],
)
def test_markup_is_found(text: str, found: str) -> None:
    assert _run([text]) == [f"html_tag={found}"]


@pytest.mark.parametrize(
    "text",
    [
        "a < b > c",
        "I <3 you",
        "if a<b and c>d then",
        "mail me at <john@example.com>",
        "use <name> as a placeholder",
        "x<y, y>z",
        "vector<int> v;",
        "",
        "<p .. e - 1. the end = here>",
    ],
)
def test_look_alikes_are_not(text: str) -> None:
    assert _run([text]) == [None]


def test_detail_is_short_and_rules_turn_off() -> None:
    long_tag = "<a href='" + "x" * 200 + "'>"
    assert _run([long_tag]) == ["html_tag=" + long_tag[:60]]
    assert _run(["<!-- c -->", "<p>"], comments=False) == [None, "html_tag=<p>"]
    assert _run(["<!-- c -->", "<p>"], tags=None, comments=None) == [None, None]
    assert _run(["<name>", "<p>"], tags=["name"]) == ["html_tag=<name>", None]
    with pytest.raises(ValueError, match="not an HTML element"):
        STEPS["html_tags"].Options(tags=["<p>"])


def test_keep_signals() -> None:
    step = STEPS["html_tags"](STEPS["html_tags"].Options(keep_signals=True))
    frame = step.apply(pl.DataFrame({"id": ["a", "b"], "text": ["<b>x</b>", "plain"]})).frame
    assert frame.get_column("html_tags.tag").to_list() == ["<b>", None]
