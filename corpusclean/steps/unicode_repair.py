"""``unicode_repair``: fix mojibake and other Unicode damage with ftfy.

Why: web text decoded with the wrong codec ("cafÃ©" for "café") splits one word into several
rare tokens and teaches a model garbage. ftfy (Speer, 2019, https://github.com/rspeer/python-ftfy)
undoes it. ftfy is pure Python and slow, so the step first finds, with one vectorised Polars
test over the batch, the documents ftfy could change at all, and calls ``ftfy.fix_text`` only
on those. The test is conservative: it selects every document containing a non-ASCII
character, a control character, a carriage return or an ``&`` (HTML entities), which covers
every fix ftfy's defaults make; pure printable ASCII text is returned by ftfy unchanged.
The output therefore equals ``ftfy.fix_text`` on every document (tested).
"""

from __future__ import annotations

import ftfy
import polars as pl

from corpusclean.steps.base import Step, StepOptions, StepResult

#: Documents matching this may be changed by ftfy's default fixes; the rest cannot be.
NEEDS_FTFY = r"[^\x09\x0A\x20-\x25\x27-\x7E]"


class UnicodeRepairOptions(StepOptions):
    """No options yet: ftfy's defaults (``ftfy.TextFixerConfig()``) are used."""


class UnicodeRepairStep(Step):
    name = "unicode_repair"
    Options = UnicodeRepairOptions
    summary = "Repair mojibake and Unicode damage with ftfy.fix_text (only where needed)."
    source = "ftfy (Speer 2019); used by FineWeb, Dolma, RedPajama"

    def apply(self, batch: pl.DataFrame) -> StepResult:
        needs = batch.get_column("text").str.contains(NEEDS_FTFY)
        candidates = batch.filter(needs).get_column("text").to_list()
        # A per-document loop, but only over candidates: ftfy has no batch API.
        fixed = [ftfy.fix_text(text) for text in candidates]
        changed = sum(a != b for a, b in zip(candidates, fixed, strict=True))
        if candidates:
            repaired = pl.Series("text", fixed, dtype=pl.String)
            index = batch.with_row_index("_row").filter(needs).get_column("_row")
            text = batch.get_column("text").scatter(index, repaired)
            batch = batch.with_columns(text)
        return StepResult(
            frame=batch,
            counters={"ftfy_candidates": len(candidates), "repaired": changed},
        )
