"""Throughput of `trainer pretrain` against a minimal hand-written PyTorch loop, and KD's cost.

    python benchmarks/trainer.py [--steps 30] [--repeats 3] [--dtype auto|fp32|bf16]

Three measurements on the same synthetic shards (vocabulary 8192), the same model shape
(GPT-2, 3 layers, 256 wide, 4 heads) and the same batch (16 x 128 tokens), in one run:

* plain:   a nanoGPT-like GPT written here (SDPA attention, tied head, AdamW, grad clipping),
           trained by a bare loop: the floor our trainer's overhead is measured against;
* trainer: trainer.pretrain.pretrain() on the same shape (Hugging Face GPT2LMHeadModel);
* kd:      the same with --teacher (a 6 x 256 GPT-2) and --kd vanilla, then --kd pkd.

Tokens/s exclude the first `--warmup` steps and evaluation. Each measurement is repeated,
interleaved, and the best run reported (as timeit does: interference from other processes
only ever slows a run down, so the fastest is the closest to the code's own speed).
Prints tokens/s and the ratios trainer/plain and kd/trainer.
"""

from __future__ import annotations

import argparse
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

from trainer.device import autocast_for, dtype_name, resolve_device, resolve_dtype  # noqa: E402
from trainer.pretrain import PretrainConfig, pretrain  # noqa: E402

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


def plain_tokens_per_second(
    train: np.ndarray, steps: int, warmup: int, device: torch.device, dtype: torch.dtype
) -> float:
    """A bare training loop: random windows, forward, loss, backward, clip, AdamW."""
    torch.manual_seed(0)
    model = PlainGPT(Shape()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    start = 0.0
    for step in range(steps):
        if step == warmup:
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
    loss.item()
    return (steps - warmup) * BATCH * BLOCK / (time.perf_counter() - start)


def trainer_tokens_per_second(
    shards: Path, out: Path, steps: int, warmup: int, dtype: str, *extra: tuple[str, str]
) -> float:
    """tokens/s of trainer.pretrain after `warmup` steps, from its log (evaluation excluded)."""
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
    pretrain(cfg)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    timed = [r for r in records if r["step"] > warmup]
    seconds = sum(BATCH * BLOCK / r["tokens_per_second"] for r in timed)
    return len(timed) * BATCH * BLOCK / seconds


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
    print(
        f"device {device}, {torch.get_num_threads()} threads, dtype {dtype_name(dtype)}; "
        f"GPT-2 {LAYERS} x {WIDTH}, batch {BATCH} x {BLOCK} tokens, {args.steps} steps "
        f"({args.warmup} untimed), best of {args.repeats}"
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
        )
        GPT2LMHeadModel(teacher_config).save_pretrained(teacher)
        methods = [m for m in args.kd.split(",") if m]
        results: dict[str, list[float]] = {"plain": [], "trainer": []}
        results.update({f"kd {m}": [] for m in methods})
        train = np.memmap(shards / "train.bin", dtype=np.uint16, mode="r")
        name = dtype_name(dtype)
        for r in range(args.repeats):
            results["plain"].append(
                plain_tokens_per_second(train, args.steps, args.warmup, device, dtype)
            )
            out = root / f"trainer{r}"
            results["trainer"].append(
                trainer_tokens_per_second(shards, out, args.steps, args.warmup, name)
            )
            for m in methods:
                kd = (("teacher", str(teacher)), ("kd", m))
                out = root / f"kd-{m}{r}"
                results[f"kd {m}"].append(
                    trainer_tokens_per_second(shards, out, args.steps, args.warmup, name, *kd)
                )
    best = {k: max(v) for k, v in results.items()}
    for key, value in best.items():
        spread = ", ".join(f"{v:,.0f}" for v in results[key])
        print(f"{key:>14}: {value:>9,.0f} tokens/s   (runs: {spread})")
    print(f"trainer / plain loop: {best['trainer'] / best['plain']:.2f}")
    for m in methods:
        ratio = best[f"kd {m}"] / best["trainer"]
        print(f"kd {m} / trainer: {ratio:.2f} (a KD step costs {1 / ratio:.2f}x a plain step)")
    assert all(math.isfinite(v) for v in best.values())


if __name__ == "__main__":
    main()
