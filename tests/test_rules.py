"""Rules files: strict validation with one message naming file, step (index and name) and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from corpusclean.cli import main
from corpusclean.rules import RulesError, load_rules, parse_rules
from tests.conftest import RULES


def _error(data: object) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(data, "r.yaml")
    return str(info.value)


@pytest.mark.parametrize("path", sorted(RULES.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_rules_validate(path: Path) -> None:
    """Every bundled file loads with the steps it lists, in order, and what ``validate`` prints
    for it (every default filled in) is itself a rules file that means the same."""
    rules = load_rules(path)
    listed = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
    assert [s.name for s in rules.steps] == [
        item if isinstance(item, str) else next(iter(item)) for item in listed
    ]
    assert parse_rules(rules.resolved(), str(path)) == rules


def test_unknown_step_names_index_and_suggests() -> None:
    message = _error({"version": 1, "steps": [{"unicode_repair": {}}, {"lenght": {}}]})
    assert message.startswith("r.yaml: steps[1] (lenght): unknown step 'lenght'")
    assert "did you mean 'length'" in message


def test_unknown_key_is_an_error() -> None:
    message = _error({"version": 1, "steps": [{"language": {"min_scor": 0.5}}]})
    assert message == "r.yaml: steps[0] (language): key 'min_scor': unknown key"


def test_out_of_range_and_wrong_type() -> None:
    message = _error({"version": 1, "steps": [{"language": {"min_score": 1.5}}]})
    assert "steps[0] (language): key 'min_score'" in message and "1.5" in message
    message = _error({"version": 1, "steps": [{"length": {"min_words": "many"}}]})
    assert "steps[0] (length): key 'min_words'" in message and "'many'" in message
    message = _error({"version": 1, "steps": [{"language": {"keep": "en"}}]})
    assert "key 'keep'" in message


def test_top_level_errors() -> None:
    assert "key 'version'" in _error({"version": 2})
    assert "key 'version': required key is missing" in _error({"steps": []})
    assert "key 'stepz': unknown key" in _error({"version": 1, "stepz": []})
    message = _error({"version": 1, "tokenize": {"tokenizer": {"train": {"vocab_size": "x"}}}})
    assert "key 'tokenize.tokenizer.train.vocab_size'" in message
    assert "mapping" in _error(["not", "a", "mapping"])


def test_bare_step_name_and_null_options_are_accepted() -> None:
    rules = parse_rules({"version": 1, "steps": ["unicode_repair", {"length": None}]}, "r.yaml")
    assert [s.name for s in rules.steps] == ["unicode_repair", "length"]


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nsteps:\n  - language: {keep: [en\n")
    with pytest.raises(RulesError, match=r"bad.yaml: line \d+: invalid YAML"):
        load_rules(path)


def test_cli_exit_2_and_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "typo.yaml"
    rules.write_text("version: 1\nsteps:\n  - unicode_repair: {}\n  - langauge: {keep: [en]}\n")
    out = tmp_path / "out"
    assert main(["run", str(rules), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "typo.yaml: steps[1] (langauge): unknown step 'langauge'" in err
    assert "did you mean 'language'" in err
    assert err.count("\n") == 1
    assert not out.exists()
    assert main(["validate", str(rules)]) == 2


def test_validate_prints_resolved_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RULES / "openwebtext.yaml")]) == 0
    out = capsys.readouterr().out
    # a default the file leaves out is printed: min_tokens counts with the run's tokenizer
    assert "min_score: 0.65" in out and "tokenizer: null" in out


def test_steps_lists_every_step_with_source(capsys: pytest.CaptureFixture[str]) -> None:
    from corpusclean.steps import STEPS

    assert main(["steps"]) == 0
    out = capsys.readouterr().out
    for name, step in STEPS.items():
        assert f"{name}: " in out
        assert step.source and step.source in out


def test_missing_tokenizer_file_is_a_rules_error(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\ntokenize: {tokenizer: nowhere/tokenizer.json}\n")
    assert main(["validate", str(rules)]) == 2
