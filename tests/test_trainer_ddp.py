"""Speed options: data parallelism, gradient accumulation, autocast dtype, MFU, memory reuse.

Two gloo processes (torchrun) follow the 1-process loss curve: both draw the same global
batch from the same generator and train on halves of it; the gradients are averaged, so
only float summation order differs from one process. The same holds for --grad-accum,
which splits the batch within a process.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_trainer import counting_docs, flatten, read_log, small_args, write_shards
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.activations import GELUTanh

from trainer import cli
from trainer import device as device_module
from trainer.device import resolve_dtype
from trainer.presets import ACTIVATION
from trainer.student import fuse_gelu

RUN = (
    "--steps",
    "6",
    "--log-interval",
    "1",
    "--eval-interval",
    "3",
    "--dtype",
    "fp32",
    "--lr",
    "1e-3",
)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return write_shards(
        root / "shards", flatten(counting_docs(300, 0)), flatten(counting_docs(40, 1))
    )


def curve(out: Path) -> list[tuple[int, float, float | None]]:
    return [(r["step"], r["loss"], r.get("val_loss")) for r in read_log(out)]


def assert_same_curve(a: Path, b: Path) -> None:
    one, two = curve(a), curve(b)
    assert [r[0] for r in one] == [r[0] for r in two]
    for (_, loss_a, val_a), (_, loss_b, val_b) in zip(one, two, strict=True):
        assert loss_b == pytest.approx(loss_a, rel=1e-4, abs=1e-5)
        assert (val_a is None) == (val_b is None)
        if val_a is not None:
            assert val_b == pytest.approx(val_a, rel=1e-4, abs=1e-5)


def torchrun(*args: str) -> str:
    """`torchrun --nproc_per_node 2 -m trainer ARGS`; returns stdout, fails on an error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "trainer", *args,
    ]  # fmt: skip
    # A session of its own, so a timeout can end the launcher and both workers together.
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr[-3000:]
    return stdout


def test_two_processes_match_one(shards: Path, tmp_path: Path) -> None:
    single, double, resumed = tmp_path / "single", tmp_path / "double", tmp_path / "resumed"
    assert cli.main(small_args(shards, single, *RUN)) == 0
    stdout = torchrun(*small_args(shards, double, *RUN))
    assert stdout.count("final val loss") == 1  # rank 0 alone reports
    assert read_log(double)[0]["world_size"] == 2
    assert_same_curve(single, double)
    assert curve(double)[-1][1] < curve(double)[1][1]  # and it learns

    # Stopped and resumed, 2 processes continue exactly as 2 processes uninterrupted.
    torchrun(*small_args(shards, resumed, *RUN, "--stop-after", "4"))
    torchrun(*small_args(shards, resumed, *RUN, "--resume"))
    assert curve(resumed) == curve(double)


def test_grad_accum_matches_one_batch(shards: Path, tmp_path: Path) -> None:
    assert cli.main(small_args(shards, tmp_path / "a", *RUN)) == 0
    assert cli.main(small_args(shards, tmp_path / "b", *RUN, "--grad-accum", "4")) == 0
    assert_same_curve(tmp_path / "a", tmp_path / "b")


def test_auto_dtype_is_bf16_only_where_native(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bf16", cpu) == torch.bfloat16  # asked for: emulated, but allowed
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_dtype("auto", cpu) == torch.bfloat16
    assert resolve_dtype("fp32", cpu) == torch.float32


def test_dtype_and_mfu_are_logged(shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = small_args(shards, out, "--steps", "3", "--dtype", "fp32", "--peak-flops", "1e12")
    assert cli.main(args) == 0
    log = read_log(out)
    assert (log[0]["dtype"], log[0]["device"], log[0]["world_size"]) == ("fp32", "cpu", 1)
    model = GPT2LMHeadModel.from_pretrained(out)
    n = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    for record in log[1:]:
        assert record["mfu"] == pytest.approx(6 * n * record["tokens_per_second"] / 1e12)
    summary = json.loads((out / "run.json").read_text())["summary"]
    assert summary["dtype"] == "fp32" and summary["mfu"] > 0


FAULTS_PROBE = """
import resource, sys, torch
from trainer.device import reuse_freed_memory
print(reuse_freed_memory())
faults = []
for _ in range(12):  # 64 MiB, the size of 16 x 128 tokens of fp32 logits over 8,192 ids
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(2048, 8192)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(min(faults[-4:]))
"""


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and "glibc" in " ".join(platform.libc_ver())),
    reason="mallopt is glibc's",
)
def test_freed_memory_is_reused_without_page_faults() -> None:
    """Each fresh [B, T, V] tensor page-faults in anew under glibc's defaults (16,384 faults
    per 64 MiB); with reuse_freed_memory, once the heap has grown, none."""

    def probe(**env: str) -> tuple[str, int]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        clean.pop("LD_PRELOAD", None)
        result = subprocess.run(
            [sys.executable, "-c", FAULTS_PROBE],
            capture_output=True,
            text=True,
            check=True,
            env={**clean, **env},
        )
        applied, faults = result.stdout.split()
        return applied, int(faults)

    applied, faults = probe()
    assert applied == "True" and faults < 100
    # glibc's default threshold, set by hand: the user's choice is respected, faults return.
    applied, faults = probe(MALLOC_MMAP_THRESHOLD_="131072")
    assert applied == "False" and faults > 10_000


def test_teacher_runs_the_fused_gelu_kernel() -> None:
    """A "gelu_new" teacher (GPT2Config's default, Hugging Face's gpt2) computes the same
    function with PyTorch's fused kernel; its config is left alone."""
    torch.manual_seed(0)
    config = GPT2Config(n_layer=3, n_head=2, n_embd=16, n_positions=8, vocab_size=50)
    model = GPT2LMHeadModel(config).eval()
    x = torch.randint(50, (2, 8))
    with torch.no_grad():
        before = model(input_ids=x).logits
        assert fuse_gelu(model) == 3
        after = model(input_ids=x).logits
    assert all(isinstance(block.mlp.act, GELUTanh) for block in model.transformer.h)
    assert model.config.activation_function == "gelu_new"
    assert torch.allclose(before, after, atol=1e-5)
    assert fuse_gelu(model) == 3  # still gelu_new by config: idempotent
    fused = GPT2LMHeadModel(GPT2Config(**{**config.to_dict(), "activation_function": ACTIVATION}))
    assert fuse_gelu(fused) == 0
