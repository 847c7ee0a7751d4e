"""Warm starts: --init HF_DIR as is, truncated with --keep-layers, and their input checks.

Checkpoints are tiny GPT-2s built and saved here (nothing is downloaded).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_trainer import (
    EOS,
    VOCAB,
    _expect_error,
    counting_docs,
    flatten,
    read_log,
    small_args,
    write_shards,
)
from transformers import GPT2Config, GPT2LMHeadModel

from trainer import cli
from trainer.errors import TrainerError
from trainer.student import parse_keep_layers, truncate


def save_gpt2(
    path: Path, n_layer: int, n_embd: int = 32, vocab: int = VOCAB, seed: int = 0
) -> Path:
    """A randomly initialised GPT-2 checkpoint (random weights make copies distinguishable)."""
    torch.manual_seed(seed)
    config = GPT2Config(
        n_layer=n_layer,
        n_head=4,
        n_embd=n_embd,
        n_positions=64,
        vocab_size=vocab,
        bos_token_id=EOS,
        eos_token_id=EOS,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def twelve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_gpt2(tmp_path_factory.mktemp("ckpt") / "gpt2-12x32", n_layer=12)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return write_shards(
        root / "shards", flatten(counting_docs(300, 0)), flatten(counting_docs(40, 1))
    )


@pytest.mark.parametrize(
    ("spec", "n_layer", "expected"),
    [
        ("distil", 12, [0, 2, 4, 7, 9, 11]),
        ("alt", 12, [0, 2, 4, 6, 8, 10]),
        ("alt", 5, [0, 2, 4]),
        ("bottom:3", 12, [0, 1, 2]),
        ("top:3", 12, [9, 10, 11]),
        ("0,2,4,7,9,11", 12, [0, 2, 4, 7, 9, 11]),
        (" 1, 3 ", 4, [1, 3]),
    ],
)
def test_keep_layer_specs(spec: str, n_layer: int, expected: list[int]) -> None:
    assert parse_keep_layers(spec, n_layer) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("0,2,12", "layer 12 is out of range"),
        ("-1,2", "layer -1 is out of range"),
        ("2,1", "increasing order"),
        ("1,1", "increasing order"),
        ("top:13", "between 1 and 12"),
        ("bottom:0", "between 1 and 12"),
        ("middle", "expected a list"),
    ],
)
def test_keep_layer_spec_errors(spec: str, fragment: str) -> None:
    with pytest.raises(TrainerError, match=fragment):
        parse_keep_layers(spec, 12)
    with pytest.raises(TrainerError, match="12-layer"):
        parse_keep_layers("distil", 6)


def test_truncate_copies_the_chosen_blocks(twelve: Path, tmp_path: Path) -> None:
    teacher = GPT2LMHeadModel.from_pretrained(twelve)
    keep = [0, 2, 4, 7, 9, 11]
    student = truncate(teacher, keep)
    assert student.config.n_layer == 6 and len(student.transformer.h) == 6
    assert student.lm_head.weight is student.transformer.wte.weight  # still tied
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for key, value in s_state.items():
        if key.startswith("transformer.h."):
            i = int(key.split(".")[2])
            source = key.replace(f"transformer.h.{i}.", f"transformer.h.{keep[i]}.", 1)
        else:
            source = key  # wte, wpe, ln_f, lm_head
        assert torch.equal(value, t_state[source]), key
    # Copies, not views: training the student must leave the teacher alone.
    student.transformer.h[0].attn.c_attn.weight.data.add_(1.0)
    assert not torch.equal(
        student.transformer.h[0].attn.c_attn.weight, teacher.transformer.h[0].attn.c_attn.weight
    )

    student = truncate(teacher, keep)
    student.save_pretrained(tmp_path / "student")
    reloaded = GPT2LMHeadModel.from_pretrained(tmp_path / "student")
    assert reloaded.config.n_layer == 6
    for key, value in student.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[key]), key
    x = torch.randint(VOCAB, (2, 10))
    with torch.no_grad():  # eval(): the default config's dropout would make them differ
        assert torch.equal(student.eval()(x).logits, reloaded.eval()(x).logits)


def test_cli_truncates_and_trains(twelve: Path, shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = small_args(shards, out, "--steps", "4", "--init", str(twelve), "--keep-layers", "distil")
    assert cli.main(args) == 0
    model = GPT2LMHeadModel.from_pretrained(out)
    assert (model.config.n_layer, model.config.n_embd) == (6, 32)
    run = json.loads((out / "run.json").read_text())
    assert run["keep_layers"] == [0, 2, 4, 7, 9, 11]
    assert read_log(out)[-1]["step"] == 4


def test_cli_continues_a_checkpoint_as_is(twelve: Path, shards: Path, tmp_path: Path) -> None:
    """--init HF_DIR without --keep-layers: step 0 scores the checkpoint's own weights."""
    out = tmp_path / "o"
    assert cli.main(small_args(shards, out, "--steps", "1", "--init", str(twelve))) == 0
    assert GPT2LMHeadModel.from_pretrained(out).config.n_layer == 12
    source = GPT2LMHeadModel.from_pretrained(twelve).eval()
    x = torch.from_numpy(flatten(counting_docs(40, 1))[:33]).unsqueeze(0)
    with torch.no_grad():
        logits = source(x[:, :-1]).logits
    direct = torch.nn.functional.cross_entropy(logits[0], x[0, 1:]).item()
    assert read_log(out)[0]["val_loss"] == pytest.approx(direct, abs=0.1)


def test_init_input_errors(twelve: Path, shards: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    base = small_args(shards, out, "--steps", "2", "--init", str(twelve))
    _expect_error(capsys, [*base, "--keep-layers", "0,2,12"], "--keep-layers 0,2,12", "12 layers")
    _expect_error(capsys, [*base, "--model", "tiny"], "--model applies to --init scratch")
    _expect_error(capsys, [*base, "--block-size", "128"], "--block-size 128", "n_positions 64")

    # Shards whose vocabulary exceeds the checkpoint's (here stored as uint32).
    big = write_shards(
        tmp_path / "big",
        flatten(counting_docs(50, 0)),
        flatten(counting_docs(10, 1)),
        dtype="uint32",
        vocab_size=70000,
    )
    args = small_args(big, out, "--steps", "2", "--init", str(twelve))
    _expect_error(capsys, args, "vocab_size 70000", "exceeds --init")
    # An id beyond the checkpoint's vocabulary.
    ids = flatten(counting_docs(50, 0))
    ids[3] = VOCAB + 5
    bad = write_shards(tmp_path / "bad", ids, flatten(counting_docs(10, 1)))
    args = small_args(bad, out, "--steps", "2", "--init", str(twelve))
    _expect_error(capsys, args, "train.bin", f"token id {VOCAB + 5}")
    # A shard file whose size disagrees with the manifest's dtype.
    wrong = write_shards(
        tmp_path / "wrong",
        flatten(counting_docs(50, 0)),
        flatten(counting_docs(10, 1)),
        manifest_dtype="uint32",
    )
    _expect_error(capsys, small_args(wrong, out, "--steps", "2", "--init", str(twelve)), "dtype")
    assert not out.exists()


def test_errors_are_one_line(twelve: Path, shards: Path, tmp_path: Path, capsys) -> None:
    args = small_args(shards, tmp_path / "o", "--steps", "2", "--init", str(twelve))
    assert cli.main([*args, "--keep-layers", "0,99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trainer: error: --keep-layers 0,99")
