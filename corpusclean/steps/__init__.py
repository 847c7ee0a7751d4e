"""The step registry: a step is one module plus one line in ``STEPS`` below.

The engine only knows the :class:`~corpusclean.steps.base.Step` interface; it looks steps up
here by the name a rules file uses.
"""

from __future__ import annotations

from corpusclean.steps.base import Step, StepOptions, StepResult
from corpusclean.steps.c4_quality import C4QualityStep
from corpusclean.steps.decontaminate import DecontaminateStep
from corpusclean.steps.exact_dedup import ExactDedupStep
from corpusclean.steps.fineweb_quality import FineWebQualityStep
from corpusclean.steps.gopher_quality import GopherQualityStep
from corpusclean.steps.gopher_repetition import GopherRepetitionStep
from corpusclean.steps.html_tags import HtmlTagsStep
from corpusclean.steps.language import LanguageStep
from corpusclean.steps.length import LengthStep
from corpusclean.steps.line_dedup import LineDedupStep
from corpusclean.steps.min_tokens import MinTokensStep
from corpusclean.steps.minhash_dedup import MinhashDedupStep
from corpusclean.steps.unicode_repair import UnicodeRepairStep
from corpusclean.steps.url_filter import UrlFilterStep

STEPS: dict[str, type[Step]] = {
    step.name: step
    for step in (
        UrlFilterStep,
        UnicodeRepairStep,
        LanguageStep,
        LengthStep,
        GopherQualityStep,
        GopherRepetitionStep,
        C4QualityStep,
        FineWebQualityStep,
        HtmlTagsStep,
        LineDedupStep,
        ExactDedupStep,
        MinhashDedupStep,
        MinTokensStep,
        DecontaminateStep,
    )
}

__all__ = ["STEPS", "Step", "StepOptions", "StepResult"]
