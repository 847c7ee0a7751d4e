"""Rules file (version 1): parse with ``yaml.safe_load`` and validate strictly.

Every problem is reported as one :class:`RulesError` whose message names the file, the step
(index and name) and the key, e.g. ``rules/x.yaml: steps[2] (language): key 'min_score':
Input should be less than or equal to 1 (got 1.5)``. The CLI turns it into exit code 2 before
anything is written. The schema is in ``docs/contract.md``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from corpusclean.extract import DEFAULT_EXTRACTOR, Extractor
from corpusclean.steps import STEPS, Step, StepOptions
from corpusclean.tokenizer import TokenizeSpec


class RulesError(Exception):
    """An invalid rules file; the message is the one line the user sees."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    paths: list[str] = Field(default_factory=list)
    text_field: str = "text"
    id_field: str = "id"
    #: Main-text extractor of WARC and HTML input (corpusclean.extract; docs/extraction.md).
    html_extractor: Extractor = DEFAULT_EXTRACTOR


class _Top(_Strict):
    version: int
    name: str | None = None
    input: InputSpec = Field(default_factory=InputSpec)
    output: str | None = None
    steps: list[Any] = Field(default_factory=list)
    tokenize: TokenizeSpec | None = None

    @field_validator("version")
    @classmethod
    def _v1(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported version {value}; this corpusclean reads version 1")
        return value


@dataclass(frozen=True)
class StepSpec:
    """One resolved step: its registered name and validated options."""

    name: str
    options: StepOptions

    def build(self) -> Step:
        return STEPS[self.name](self.options)

    def as_dict(self) -> dict[str, Any]:
        return {self.name: self.options.model_dump(mode="json")}


@dataclass(frozen=True)
class Rules:
    path: str
    name: str
    input: InputSpec
    output: str | None
    steps: list[StepSpec]
    tokenize: TokenizeSpec | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def resolved(self) -> dict[str, Any]:
        """The rules with every default filled in (what ``corpusclean validate`` prints)."""
        return {
            "version": 1,
            "name": self.name,
            "input": self.input.model_dump(),
            "output": self.output,
            "steps": [s.as_dict() for s in self.steps],
            "tokenize": None if self.tokenize is None else self.tokenize.model_dump(mode="json"),
        }


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    """(key path, message) of one pydantic error, with the offending value."""
    loc = ".".join(str(p) for p in error["loc"] if not _is_union_tag(p))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    return loc, message


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def _is_union_tag(part: object) -> bool:
    """pydantic puts the union member's type name into ``loc``; users never wrote it."""
    text = str(part)
    return text in _UNION_TAGS or text[:1].isupper() or text.startswith("function-")


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """The most specific error: for unions, the branch that got furthest into the value."""
    errors = exc.errors(include_url=False)
    return _describe(max(errors, key=lambda e: len(e["loc"])))


def _parse_step(path: str, index: int, item: Any) -> StepSpec:
    if isinstance(item, str):
        item = {item: {}}
    if not isinstance(item, dict) or len(item) != 1:
        raise RulesError(
            f"{path}: steps[{index}]: each step must be a mapping with one key, "
            f"{{step_name: {{options}}}} (got {item!r})"
        )
    name, options = next(iter(item.items()))
    if name not in STEPS:
        close = difflib.get_close_matches(str(name), STEPS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise RulesError(
            f"{path}: steps[{index}] ({name}): unknown step '{name}'{hint} "
            f"(known: {', '.join(sorted(STEPS))})"
        )
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise RulesError(
            f"{path}: steps[{index}] ({name}): options must be a mapping (got {options!r})"
        )
    try:
        validated = STEPS[name].Options.model_validate(options)
    except ValidationError as exc:
        key, message = _first_error(exc)
        where = f"key '{key}'" if key else "options"
        raise RulesError(f"{path}: steps[{index}] ({name}): {where}: {message}") from None
    return StepSpec(name=name, options=validated)


def parse_rules(data: Any, path: str) -> Rules:
    """Validate an already-loaded rules mapping; ``path`` is used in messages."""
    if not isinstance(data, dict):
        raise RulesError(f"{path}: a rules file must be a YAML mapping (got {type(data).__name__})")
    try:
        top = _Top.model_validate(data)
    except ValidationError as exc:
        key, message = _first_error(exc)
        raise RulesError(f"{path}: key '{key}': {message}") from None
    if top.input.paths and not all(isinstance(p, str) for p in top.input.paths):
        raise RulesError(f"{path}: key 'input.paths': must be a list of strings")
    steps = [_parse_step(path, i, item) for i, item in enumerate(top.steps)]
    name = top.name or Path(path).stem
    return Rules(path, name, top.input, top.output, steps, top.tokenize, raw=data)


def load_rules(path: str | Path) -> Rules:
    """Read and validate a rules file; raises :class:`RulesError` with one clear message."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{path}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read rules file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{path}:{where}: invalid YAML: {problem}") from None
    return parse_rules(data, path)
