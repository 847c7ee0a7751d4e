"""``html_tags``: drop documents in which HTML markup is found.

Source: Li et al. 2021, "A Short Study on Compressing Decoder-Based Language Models"
(arXiv:2110.08460): cleaning OpenWebText for their students, the authors dropped documents in
which an HTML parser found a tag. A parser such as BeautifulSoup reports a "tag" for any
``<word ...>``, including e-mail addresses in angle brackets (``<john@example.com>``),
placeholders (``<name>``) and some inequalities (``if a<b and c>d``); this step looks for real
markup instead, vectorised with one regular expression per batch:

* an opening or self-closing tag whose name is a known HTML element (``tags``), either bare
  (``<p>``, ``<br/>``, ``<br />``) or whose first attribute has a value
  (``<a href="...">``, ``<div class=x>``), case-insensitive;
* a closing tag of a known element (``</div>``);
* an HTML comment (``<!-- ... -->``) or a document type (``<!DOCTYPE html>``) when
  ``comments`` is on.

Not flagged: ``a < b > c``, ``<3``, ``x<y``, ``<john@example.com>``, ``<name>`` (not an HTML
element), ``if a<b and c>d`` (no ``=``). The first markup found is the rejected row's
``detail`` (``html_tag=<div class="nav">``, at most 60 characters).
"""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field, field_validator

from corpusclean.histograms import CATEGORY
from corpusclean.steps.base import Step, StepOptions, StepResult, first_failure

#: HTML elements whose tags are looked for by default (the common body and head elements).
TAGS = [
    "a", "abbr", "article", "aside", "b", "blockquote", "body", "br", "button", "caption",
    "center", "code", "dd", "div", "dl", "dt", "em", "embed", "figcaption", "figure", "font",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "i",
    "iframe", "img", "input", "label", "li", "link", "main", "meta", "nav", "noscript", "ol",
    "option", "p", "pre", "script", "section", "select", "small", "span", "strong", "style",
    "sub", "sup", "svg", "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "title",
    "tr", "u", "ul",
]  # fmt: skip

#: Bare (``<p>``, ``<br/>``) or with a first attribute that has a value (``<a href=...>``).
_ATTRIBUTES = r"""(?:\s*/?>|\s+[\w:.-]+\s*=[^<>]*>)"""
_COMMENT = r"<!--.*?-->|<!doctype\s+html[^<>]*>"
_DETAIL_CHARS = 60


def markup_pattern(tags: list[str] | None, comments: bool) -> str | None:
    """The regex that finds markup (None when both sub-rules are off)."""
    parts = []
    if tags:
        names = "|".join(sorted((re.escape(t) for t in tags), key=len, reverse=True))
        parts.append(f"<(?:{names}){_ATTRIBUTES}")
        parts.append(f"</(?:{names})\\s*>")
    if comments:
        parts.append(_COMMENT)
    if not parts:
        return None
    return "(?is)" + "|".join(parts)


class HtmlTagsOptions(StepOptions):
    tags: list[str] | None = Field(
        default_factory=lambda: list(TAGS),
        description="HTML element names whose opening/closing tags drop a document (null: off)",
    )
    comments: bool | None = Field(
        True, description="also drop documents with <!-- comments --> or <!DOCTYPE html>"
    )
    keep_signals: bool = Field(
        False, description="keep the column html_tags.tag (the first markup found) in documents/"
    )

    @field_validator("tags")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for tag in value:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", tag):
                raise ValueError(f"not an HTML element name: {tag!r}")
        return [t.lower() for t in value]


class HtmlTagsStep(Step[HtmlTagsOptions]):
    name = "html_tags"
    summary = "Drop documents containing HTML markup (known element tags, comments, doctype)."
    source = (
        "Li et al. 2021, A Short Study on Compressing Decoder-Based Language Models "
        "(arXiv:2110.08460): OpenWebText documents where an HTML parser found a tag were dropped"
    )
    signal_columns = ("html_tags.tag",)
    signal_bins = {"html_tags.element": CATEGORY}

    def apply(self, batch: pl.DataFrame) -> StepResult:
        pattern = markup_pattern(self.options.tags, bool(self.options.comments))
        column = "html_tags.tag"
        if pattern is None:
            found = pl.lit(None, dtype=pl.String)
        else:
            found = pl.col("text").str.extract(pattern, 0)
        batch = batch.with_columns(found.alias(column))
        shown = pl.col(column).str.replace_all(r"\s+", " ").str.slice(0, _DETAIL_CHARS)
        reject = first_failure(
            batch, [(pl.col(column).is_not_null(), pl.format("html_tag={}", shown))]
        )
        # The report counts pages by the element found (bounded by the tag list), not by the
        # markup itself (unbounded: attributes).
        element = (
            pl.when(pl.col(column).str.starts_with("<!--"))
            .then(pl.lit("comment"))
            .otherwise(
                pl.col(column)
                .str.extract(r"^<\s*/?\s*!?([A-Za-z][A-Za-z0-9-]*)", 1)
                .str.to_lowercase()
            )
            .alias("html_tags.element")
        )
        signals = batch.select(element)
        if not self.options.keep_signals:
            batch = batch.drop(column)
        counters = (
            {"rejected.html_tag": int(reject.is_not_null().sum())} if reject is not None else {}
        )
        return StepResult(frame=batch, reject=reject, counters=counters, signals=signals)
