"""End-to-end tests of the trainer on tiny synthetic shards (real torch/transformers, CPU).

The data is learnable on purpose: each document counts upward from a random token with a
random stride of 1 or 2, so after a couple of hundred steps a tiny GPT-2 predicts most
tokens and validation loss must fall far below its initial ~ln(vocab).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import GPT2LMHeadModel

from trainer import cli
from trainer.optim import lr_at
from trainer.perplexity import plan_windows
from trainer.presets import build_config, build_model, round_vocab

VOCAB = 64
EOS = 0
LOG_KEYS = {"step", "loss", "lr", "tokens_per_second"}


def counting_docs(n_docs: int, seed: int) -> list[list[int]]:
    """Documents t, t+s, t+2s, ... over ids 1..VOCAB-1 (0 is EOS), s in {1, 2}."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        start, stride, length = rng.integers(1, VOCAB), rng.integers(1, 3), rng.integers(20, 60)
        docs.append([(start - 1 + stride * i) % (VOCAB - 1) + 1 for i in range(length)])
    return docs


def flatten(docs: list[list[int]]) -> np.ndarray:
    return np.array([t for doc in docs for t in [*doc, EOS]], dtype=np.int64)


def write_shards(
    root: Path,
    train: np.ndarray,
    val: np.ndarray,
    *,
    dtype: str = "uint16",
    vocab_size: int = VOCAB,
    manifest_dtype: str | None = None,
) -> Path:
    """Write train.bin / val.bin / manifest.json as the shard writer would."""
    root.mkdir(parents=True, exist_ok=True)
    train.astype(dtype).tofile(root / "train.bin")
    val.astype(dtype).tofile(root / "val.bin")
    manifest = {
        "tokenizer": "synthetic-wordlevel",
        "vocab_size": vocab_size,
        "dtype": manifest_dtype or dtype,
        "eos_id": EOS,
        "train_tokens": int(len(train)),
        "val_tokens": int(len(val)),
        "train_docs": int((train == EOS).sum()),
        "val_docs": int((val == EOS).sum()),
    }
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


def write_tokenizer(path: Path) -> None:
    """A word-level tokenizer whose ids are exactly the synthetic ones: 'tK' -> K."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<eos>": EOS, **{f"t{i}": i for i in range(1, VOCAB)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(path))


def as_text(ids: np.ndarray) -> str:
    return " ".join("<eos>" if t == EOS else f"t{t}" for t in ids)


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def small_args(shards: Path, out: Path, *extra: str) -> list[str]:
    return [
        "pretrain",
        "--shards",
        str(shards),
        "--out",
        str(out),
        "--batch-size",
        "8",
        "--block-size",
        "32",
        "--eval-batches",
        "2",
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good shards in ROOT/shards with the tokenizer in ROOT/ (the parent lookup)."""
    root = tmp_path_factory.mktemp("data")
    write_tokenizer(root / "tokenizer.json")
    train, val = flatten(counting_docs(600, 0)), flatten(counting_docs(60, 1))
    return write_shards(root / "shards", train, val)


@pytest.fixture(scope="module")
def trained(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "ckpt"
    code = cli.main(
        [
            "pretrain",
            "--shards",
            str(shards),
            "--out",
            str(out),
            "--steps",
            "150",
            "--batch-size",
            "16",
            "--block-size",
            "64",
            "--eval-batches",
            "4",
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_pretrain_learns_and_writes_outputs(trained: Path) -> None:
    records = read_log(trained)
    assert all(LOG_KEYS <= r.keys() for r in records)
    evals = [r for r in records if "val_loss" in r]
    assert evals[0]["step"] == 0 and evals[-1]["step"] == 150
    assert all(r["val_ppl"] == pytest.approx(math.exp(r["val_loss"])) for r in evals)
    assert evals[0]["val_loss"] == pytest.approx(math.log(VOCAB), abs=0.5)  # untrained
    assert evals[-1]["val_loss"] < 0.7 * evals[0]["val_loss"]
    assert all(r["tokens_per_second"] > 0 for r in records if r["step"] > 0)

    model = GPT2LMHeadModel.from_pretrained(trained)
    assert model.config.vocab_size == round_vocab(VOCAB)
    assert model.config.eos_token_id == EOS and model.config.bos_token_id == EOS
    assert (trained / "model.safetensors").is_file()
    assert (trained / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (trained / "tokenizer.json").is_file()  # copied from the shards' parent
    run = json.loads((trained / "run.json").read_text())
    assert run["summary"]["final_val_loss"] == evals[-1]["val_loss"]
    assert run["manifest"]["vocab_size"] == VOCAB


def test_same_seed_same_losses(shards: Path, tmp_path: Path, capsys) -> None:
    def losses(name: str, seed: str) -> list[tuple[float, float | None]]:
        out = tmp_path / name
        assert cli.main(small_args(shards, out, "--steps", "12", "--seed", seed)) == 0
        return [(r["loss"], r.get("val_loss")) for r in read_log(out)]

    first = losses("a", "7")
    assert losses("b", "7") == first
    assert losses("c", "8") != first
    printed = capsys.readouterr().out
    assert "final val loss" in printed and str(tmp_path / "a") in printed


def test_tokens_option_sets_steps(shards: Path, tmp_path: Path) -> None:
    # 8 * 32 = 256 tokens per step: 1000 tokens -> ceil(3.9) = 4 steps.
    assert cli.main(small_args(shards, tmp_path / "o", "--tokens", "1000")) == 0
    assert json.loads((tmp_path / "o" / "run.json").read_text())["plan"]["steps"] == 4
    assert read_log(tmp_path / "o")[-1]["step"] == 4


def test_config_json_model(shards: Path, tmp_path: Path) -> None:
    config = tmp_path / "one_layer.json"
    config.write_text(json.dumps({"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 64}))
    out = tmp_path / "o"
    assert cli.main(small_args(shards, out, "--steps", "2", "--model", str(config))) == 0
    model = GPT2LMHeadModel.from_pretrained(out)
    assert (model.config.n_layer, model.config.n_embd) == (1, 32)


def _expect_error(capsys, argv: list[str], *fragments: str) -> None:
    """The CLI must exit 2 with one stderr line containing every fragment."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    for fragment in fragments:
        assert fragment in err, err


def test_ids_beyond_vocab(tmp_path: Path, capsys) -> None:
    train = flatten(counting_docs(50, 0))
    train[10] = 5000
    root = write_shards(tmp_path / "s", train, flatten(counting_docs(10, 1)))
    out = tmp_path / "o"
    _expect_error(capsys, small_args(root, out, "--steps", "1"), "train.bin", "5000", "vocab")
    assert not (out / "model.safetensors").exists()


def test_dtype_mismatch(tmp_path: Path, capsys) -> None:
    root = write_shards(
        tmp_path / "s",
        flatten(counting_docs(50, 0)),
        flatten(counting_docs(10, 1)),
        manifest_dtype="uint32",
    )
    _expect_error(capsys, small_args(root, tmp_path / "o", "--steps", "1"), "train.bin", "dtype")


def test_missing_inputs(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    _expect_error(capsys, small_args(missing, tmp_path / "o", "--steps", "1"), str(missing))

    train, val = flatten(counting_docs(50, 0)), flatten(counting_docs(10, 1))
    root = write_shards(tmp_path / "s", train, val)
    (root / "val.bin").unlink()
    _expect_error(capsys, small_args(root, tmp_path / "o", "--steps", "1"), "val.bin", "missing")
    (root / "manifest.json").unlink()
    _expect_error(capsys, small_args(root, tmp_path / "o", "--steps", "1"), "manifest.json")


def test_block_and_length_limits(shards: Path, tmp_path: Path, capsys) -> None:
    args = small_args(shards, tmp_path / "o", "--steps", "1")
    _expect_error(capsys, [*args, "--block-size", "512"], "--block-size 512", "n_positions")

    short = write_shards(tmp_path / "s", flatten(counting_docs(50, 0)), np.arange(1, 20))
    _expect_error(capsys, small_args(short, tmp_path / "o", "--steps", "1"), "val.bin", "19")


def test_inconsistent_options_rejected(shards: Path, tmp_path: Path, capsys) -> None:
    args = small_args(shards, tmp_path / "o", "--steps", "2")
    _expect_error(capsys, [*args, "--init", str(tmp_path)], "--init", "config.json")
    _expect_error(capsys, [*args, "--kd", "vanilla"], "--kd needs --teacher")
    _expect_error(capsys, [*args, "--keep-layers", "0"], "--keep-layers needs --init")
    _expect_error(capsys, [*args, "--stop-after", "2"], "--stop-after 2")
    _expect_error(capsys, [*args, "--batch-size", "6", "--grad-accum", "4"], "--grad-accum 4")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_gpu(shards: Path, tmp_path: Path, capsys) -> None:
    args = small_args(shards, tmp_path / "o", "--steps", "1", "--device", "cuda")
    _expect_error(capsys, args, "--device cuda", "no CUDA")


def test_module_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trainer", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "pretrain" in done.stdout and "eval" in done.stdout


def test_lr_schedule() -> None:
    lrs = [lr_at(s, 1e-3, warmup=10, total=100) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-3 / 11)
    assert lrs[:10] == sorted(lrs[:10]) and lrs[10] == pytest.approx(1e-3)
    assert lrs[10:] == sorted(lrs[10:], reverse=True)
    assert lrs[-1] == pytest.approx(1e-4)


@pytest.mark.parametrize(("n", "block", "stride"), [(10, 4, 4), (10, 4, 2), (3, 4, 2), (100, 7, 3)])
def test_windows_score_each_token_once(n: int, block: int, stride: int) -> None:
    windows = plan_windows(n, block, stride)
    scored = [t for w in windows for t in range(w.first, w.end)]
    assert scored == list(range(1, n))
    assert all(w.begin < w.first and w.end - w.begin <= block + 1 for w in windows)


def test_eval_trained_beats_untrained(shards: Path, trained: Path, tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    untrained = tmp_path / "untrained"
    build_model(build_config("tiny", VOCAB, EOS)).save_pretrained(untrained)

    def perplexity(model: Path, *source: str) -> dict:
        assert cli.main(["eval", "--model", str(model), *source, "--block-size", "64"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        return json.loads(lines[-1])

    on_shards = perplexity(trained, "--shards", str(shards))
    assert set(on_shards) == {"perplexity", "tokens", "tokens_per_second"}
    val_tokens = json.loads((shards / "manifest.json").read_text())["val_tokens"]
    assert on_shards["tokens"] == val_tokens - 1
    baseline = perplexity(untrained, "--shards", str(shards))["perplexity"]
    assert math.isfinite(on_shards["perplexity"]) and on_shards["perplexity"] < 0.5 * baseline

    text = tmp_path / "val.txt"
    text.write_text(as_text(np.fromfile(shards / "val.bin", dtype=np.uint16)))
    on_text = perplexity(trained, "--text", str(text), "--stride", "16")
    assert on_text["tokens"] == val_tokens - 1
    assert on_text["perplexity"] < 0.5 * baseline

    _expect_error(
        capsys, ["eval", "--model", str(untrained), "--text", str(text)], "tokenizer.json"
    )
