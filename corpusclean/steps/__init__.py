"""The step registry: a step is one module plus one line in ``STEPS`` below.

The engine only knows the :class:`~corpusclean.steps.base.Step` interface; it looks steps up
here by the name a rules file uses.
"""

from __future__ import annotations

from corpusclean.steps.base import Step, StepOptions, StepResult
from corpusclean.steps.exact_dedup import ExactDedupStep
from corpusclean.steps.language import LanguageStep
from corpusclean.steps.length import LengthStep
from corpusclean.steps.line_dedup import LineDedupStep
from corpusclean.steps.minhash_dedup import MinhashDedupStep
from corpusclean.steps.unicode_repair import UnicodeRepairStep

STEPS: dict[str, type[Step]] = {
    step.name: step
    for step in (
        UnicodeRepairStep,
        LanguageStep,
        LengthStep,
        LineDedupStep,
        ExactDedupStep,
        MinhashDedupStep,
    )
}

__all__ = ["STEPS", "Step", "StepOptions", "StepResult"]
