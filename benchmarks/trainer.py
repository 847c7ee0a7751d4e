"""Throughput of `trainer pretrain` against a minimal hand-written PyTorch loop, and KD's cost.

    python benchmarks/trainer.py [--steps 30] [--repeats 3] [--dtype auto|fp32|bf16]

Four measurements on the same synthetic shards (vocabulary 8192), the same model shape
(GPT-2, 3 layers, 256 wide, 4 heads) and the same batch (16 x 128 tokens), in one run:

* plain:   a nanoGPT-like GPT written here (SDPA attention, tied head, AdamW, grad clipping),
           trained by a bare loop: the floor our trainer's overhead is measured against;
* trainer: trainer.pretrain.pretrain() on the same shape (Hugging Face GPT2LMHeadModel);
* kd:      the same with --teacher (a 6 x 256 GPT-2) and --kd vanilla, then --kd pkd;
* teacher: the teacher's forward alone (eval, no grad, as the distiller runs it). A KD
           step is a trainer step plus this plus the distillation losses, so the printed
           floor (trainer step + teacher forward) separates the teacher's share of the
           KD step's cost from the losses'.

Tokens/s exclude the first `--warmup` steps and evaluation. Each measurement is repeated,
interleaved, and the best run reported (as timeit does: interference from other processes
only ever slows a run down, so the fastest is the closest to the code's own speed).
Prints tokens/s of the best run and of the fastest quarter of all steps (see
fast_quartile), the ratio trainer/plain and each KD step's cost in trainer steps.

On CPU, trainer.pretrain makes glibc keep freed memory (trainer.device.reuse_freed_memory);
this script does so before any measurement, so the hand-written loop runs with the same
allocator. Run with MALLOC_MMAP_THRESHOLD_=131072 to measure everything with glibc's default.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# This file is called trainer.py like the package it measures; run as a script, its own
# folder comes first on sys.path and would shadow the package, so it is taken off.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402
from transformers.utils import logging  # noqa: E402

from trainer.config import PretrainConfig  # noqa: E402
from trainer.device import (  # noqa: E402
    autocast_for,
    dtype_name,
    resolve_device,
    resolve_dtype,
    reuse_freed_memory,
)
from trainer.presets import ACTIVATION  # noqa: E402
from trainer.pretrain import pretrain  # noqa: E402

VOCAB, LAYERS, WIDTH, HEADS, BATCH, BLOCK = 8192, 3, 256, 4, 16, 128


@dataclass
class Shape:
    n_layer: int = LAYERS
    n_embd: int = WIDTH
    n_head: int = HEADS
    vocab: int = VOCAB
    block: int = BLOCK


class Block(nn.Module):
    """Pre-LayerNorm transformer block, GPT-2's: attention then a 4x GELU MLP."""

    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.n_head = s.n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(s.n_embd), nn.LayerNorm(s.n_embd)
        self.c_attn = nn.Linear(s.n_embd, 3 * s.n_embd)
        self.c_proj = nn.Linear(s.n_embd, s.n_embd)
        self.fc = nn.Linear(s.n_embd, 4 * s.n_embd)
        self.proj = nn.Linear(4 * s.n_embd, s.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, -1).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class PlainGPT(nn.Module):
    """The smallest GPT-2 that trains: embeddings, blocks, final norm, tied head."""

    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(s.vocab, s.n_embd), nn.Embedding(s.block, s.n_embd)
        self.blocks = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.ln_f = nn.LayerNorm(s.n_embd)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T


def plain_step_seconds(
    train: np.ndarray, steps: int, warmup: int, device: torch.device, dtype: torch.dtype
) -> list[float]:
    """A bare training loop: random windows, forward, loss, backward, clip, AdamW."""
    torch.manual_seed(0)
    model = PlainGPT(Shape()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    seconds = []
    for step in range(steps):
        start = time.perf_counter()
        starts = torch.randint(len(train) - BLOCK, (BATCH,), generator=gen).numpy()
        rows = np.stack([train[s : s + BLOCK + 1].astype(np.int64) for s in starts])
        xy = torch.from_numpy(rows).to(device)
        with autocast_for(device, dtype):
            logits = model(xy[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # the trainer's log (interval 1) waits for each step the same way
        if step >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds


def trainer_step_seconds(
    shards: Path, out: Path, steps: int, warmup: int, dtype: str, *extra: tuple[str, str]
) -> list[float]:
    """Seconds per step of trainer.pretrain after `warmup` steps, from its log (no eval)."""
    config = out.parent / "model.json"
    shape = {"n_layer": LAYERS, "n_embd": WIDTH, "n_head": HEADS, "n_positions": BLOCK}
    config.write_text(json.dumps(shape))
    cfg = PretrainConfig(
        shards=str(shards),
        out=str(out),
        model=str(config),
        steps=steps,
        batch_size=BATCH,
        block_size=BLOCK,
        dtype=dtype,
        log_interval=1,
        eval_interval=steps,
        eval_batches=1,
        checkpoint_interval=steps,
        quiet=True,
        **dict(extra),
    )
    with contextlib.redirect_stdout(io.StringIO()):  # --quiet still prints a summary
        pretrain(cfg)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [BATCH * BLOCK / r["tokens_per_second"] for r in records if r["step"] > warmup]


def teacher_forward_seconds(
    teacher_dir: Path,
    train: np.ndarray,
    steps: int,
    warmup: int,
    device: torch.device,
    dtype: torch.dtype,
) -> list[float]:
    """The teacher's forward alone, as the distiller runs it (eval, no grad, no cache)."""
    teacher = GPT2LMHeadModel.from_pretrained(teacher_dir, attn_implementation="sdpa")
    teacher.to(device).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    seconds = []
    for step in range(steps):
        start = time.perf_counter()
        starts = torch.randint(len(train) - BLOCK, (BATCH,), generator=gen).numpy()
        rows = np.stack([train[s : s + BLOCK].astype(np.int64) for s in starts])
        x = torch.from_numpy(rows).to(device)
        with torch.no_grad(), autocast_for(device, dtype):
            logits = teacher(input_ids=x, use_cache=False).logits
        logits[0, 0, 0].item()
        if step >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds


def best_run(runs: list[list[float]]) -> float:
    """tokens/s of the fastest run (mean over its timed steps)."""
    return max(len(run) * BATCH * BLOCK / sum(run) for run in runs)


def fast_quartile(runs: list[list[float]]) -> float:
    """tokens/s at the mean of the fastest quarter of all timed steps of all runs.

    Steps have identical work, so on a machine shared with other jobs the slow ones are
    the interrupted ones; this is less sensitive to a burst of load than a whole run.
    """
    steps = sorted(s for run in runs for s in run)
    fastest = steps[: max(1, len(steps) // 4)]
    return len(fastest) * BATCH * BLOCK / sum(fastest)


def write_shards(root: Path) -> Path:
    """Random ids with some repetition, 1M training tokens: enough for random windows."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", 1_000_000), ("val", 50_000)):
        rng.integers(0, VOCAB, n, dtype=np.uint16).tofile(root / f"{name}.bin")
    manifest = {"tokenizer": "random", "vocab_size": VOCAB, "dtype": "uint16", "eos_id": 0}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--kd", default="vanilla,pkd", help="KD methods to time, one by one")
    args = parser.parse_args()
    logging.disable_progress_bar()
    device = resolve_device("auto")
    dtype = resolve_dtype(args.dtype, device)
    reused = device.type == "cpu" and reuse_freed_memory()
    print(
        f"device {device}, {torch.get_num_threads()} threads, dtype {dtype_name(dtype)}; "
        f"GPT-2 {LAYERS} x {WIDTH}, batch {BATCH} x {BLOCK} tokens, {args.steps} steps "
        f"({args.warmup} untimed), best of {args.repeats}; glibc keeps freed memory: {reused}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = write_shards(root / "shards")
        teacher = root / "teacher"
        torch.manual_seed(0)
        teacher_config = GPT2Config(
            n_layer=2 * LAYERS,
            n_embd=WIDTH,
            n_head=HEADS,
            n_positions=BLOCK,
            vocab_size=VOCAB,
            bos_token_id=0,
            eos_token_id=0,
            activation_function=ACTIVATION,  # as `trainer pretrain` would have trained it
        )
        GPT2LMHeadModel(teacher_config).save_pretrained(teacher)
        methods = [m for m in args.kd.split(",") if m]
        runs: dict[str, list[list[float]]] = {"plain": [], "trainer": [], "teacher fwd": []}
        runs.update({f"kd {m}": [] for m in methods})
        train = np.memmap(shards / "train.bin", dtype=np.uint16, mode="r")
        name = dtype_name(dtype)
        steps, warmup = args.steps, args.warmup
        for r in range(args.repeats):
            runs["plain"].append(plain_step_seconds(train, steps, warmup, device, dtype))
            out = root / f"trainer{r}"
            runs["trainer"].append(trainer_step_seconds(shards, out, steps, warmup, name))
            runs["teacher fwd"].append(
                teacher_forward_seconds(teacher, train, steps, warmup, device, dtype)
            )
            for m in methods:
                kd = (("teacher", str(teacher)), ("kd", m))
                out = root / f"kd-{m}{r}"
                runs[f"kd {m}"].append(trainer_step_seconds(shards, out, steps, warmup, name, *kd))
    print(f"{'':>14}  {'best run':>9}  {'fast quartile':>13}  tokens/s (runs)")
    for key, value in runs.items():
        spread = ", ".join(f"{best_run([run]):,.0f}" for run in value)
        print(f"{key:>14}: {best_run(value):>9,.0f}  {fast_quartile(value):>13,.0f}  ({spread})")
    for label, rate in (("best run", best_run), ("fast quartile", fast_quartile)):
        speed = {key: rate(value) for key, value in runs.items()}
        assert all(math.isfinite(v) and v > 0 for v in speed.values())
        # Seconds per token add up: a KD step is a trainer step plus a teacher forward
        # plus the distillation losses, so trainer + teacher forward is its floor.
        floor = 1 + speed["trainer"] / speed["teacher fwd"]
        kd = ", ".join(f"kd {m} {speed['trainer'] / speed[f'kd {m}']:.2f}x" for m in methods)
        print(
            f"{label}: trainer / plain loop {speed['trainer'] / speed['plain']:.2f}; step cost "
            f"vs trainer: {kd}; floor (trainer step + teacher forward) {floor:.2f}x"
        )


if __name__ == "__main__":
    main()
