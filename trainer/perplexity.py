"""Sliding-window perplexity of a causal LM over one long token stream.

This is the strided evaluation Hugging Face documents for GPT-2 ("Perplexity of
fixed-length models"): windows giving the model up to ``block_size`` tokens of input advance
by ``stride``, and each window scores only the tokens not scored by the previous one, so
every token after the first is predicted exactly once, with at least ``block_size - stride``
tokens of context (except near the start). stride == block_size gives the cheapest, least
context-rich evaluation (the same windows as training); smaller strides approach
full-context perplexity at a higher cost.

Unlike the documented loop, which approximates the count at window edges, the accounting
here is exact: n tokens yield exactly n - 1 scored predictions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, PreTrainedModel

from trainer.data import check_token_ids, open_shards
from trainer.device import autocast_for, resolve_device
from trainer.errors import TrainerError


@dataclass(frozen=True)
class Window:
    """Feed ids[begin:end - 1]; score its predictions of ids[first:end] (first > begin)."""

    begin: int
    end: int
    first: int


def plan_windows(n_tokens: int, block_size: int, stride: int) -> list[Window]:
    """The windows covering n_tokens, each scoring only tokens new since the last one.

    A window holds at most block_size + 1 tokens: block_size inputs and their targets.
    """
    if not 1 <= stride <= block_size:
        raise TrainerError(f"--stride {stride} must be between 1 and --block-size {block_size}")
    windows: list[Window] = []
    scored_to = 1  # token 0 has no context and is never predicted
    begin = 0
    while scored_to < n_tokens:
        end = min(begin + block_size + 1, n_tokens)
        windows.append(Window(begin, end, scored_to))
        scored_to = end
        # The next window must start before its first new token, which it has to predict
        # (with stride == block_size consecutive windows share one token, as in training).
        begin = min(begin + stride, end - 1)
    return windows


def load_model(model_dir: str | Path, device: torch.device) -> PreTrainedModel:
    """Load a Hugging Face causal LM (e.g. a `trainer pretrain` checkpoint) for inference."""
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise TrainerError(f"{path / 'config.json'}: missing; --model must be a checkpoint dir")
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa")
    return model.to(device).eval()


def tokenize_file(model_dir: str | Path, text_file: str | Path) -> np.ndarray:
    """Tokenize a UTF-8 text file with the checkpoint's own tokenizer.json."""
    from tokenizers import Tokenizer

    tok_path = Path(model_dir) / "tokenizer.json"
    if not tok_path.is_file():
        raise TrainerError(
            f"{tok_path}: missing; --text needs the tokenizer saved with the checkpoint "
            "(pretrain copies it from the shards directory or its parent)"
        )
    text_path = Path(text_file)
    if not text_path.is_file():
        raise TrainerError(f"{text_path}: text file does not exist")
    tokenizer = Tokenizer.from_file(str(tok_path))
    text = text_path.read_text(encoding="utf-8")
    return np.asarray(tokenizer.encode(text).ids, dtype=np.int64)


def trained_block_size(model_dir: str | Path) -> int | None:
    """The --block-size a `trainer pretrain` checkpoint was trained with, if recorded."""
    run_file = Path(model_dir) / "run.json"
    try:
        value = json.loads(run_file.read_text(encoding="utf-8"))["config"]["block_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


@torch.no_grad()
def sliding_perplexity(
    model: PreTrainedModel,
    ids: np.ndarray,
    block_size: int,
    stride: int,
    batch_size: int = 8,
    device: torch.device | None = None,
    block_tokens: int | None = None,
) -> dict[str, Any]:
    """Perplexity of ``model`` on the token stream ``ids`` with strided windows.

    Full-length windows are batched together (they all have the same shape); the short
    tail window, if any, runs alone. Returns perplexity, scored tokens and tokens/second.

    With ``block_tokens`` it also returns ``block_nll`` and ``block_counts``: the mean NLL
    (nats) of each run of ``block_tokens`` consecutive scored tokens, in text order, the
    remainder joining the last block (``block_counts`` says how many tokens each holds), so
    ``sum(nll * count) / sum(count)`` is ln perplexity. Ablations compare two models block by
    block on the same tokens (trainer/ablation_stats.py): contiguous blocks of a few thousand
    tokens are nearly independent samples of the text, where single windows overlap.
    """
    device = device or next(model.parameters()).device
    if len(ids) < 2:
        raise TrainerError("need at least 2 tokens to measure perplexity")
    windows = plan_windows(len(ids), block_size, stride)
    batches: list[list[Window]] = []
    for w in windows:
        same_shape = batches and batches[-1][0].end - batches[-1][0].begin == w.end - w.begin
        if same_shape and len(batches[-1]) < batch_size:
            batches[-1].append(w)
        else:
            batches.append([w])

    nll_sum = 0.0
    n_scored = 0
    token_nll: list[torch.Tensor] = []  # per scored token, in text order (block_tokens only)
    start = time.perf_counter()
    for batch in batches:
        rows = np.stack([np.asarray(ids[w.begin : w.end], dtype=np.int64) for w in batch])
        x = torch.from_numpy(rows).to(device)
        inputs = x[:, :-1]
        # An explicit all-ones mask says "no padding" (the windows never contain any), which
        # also keeps transformers from warning when a checkpoint's pad id equals its eos id.
        mask = torch.ones_like(inputs)
        logits = model(input_ids=inputs, attention_mask=mask, use_cache=False).logits.float()
        targets = x[:, 1:].clone()
        for row, w in enumerate(batch):
            # Position p of targets is token begin + 1 + p; mask those already scored.
            targets[row, : w.first - w.begin - 1] = -100
        nll = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum"
        )
        if block_tokens is not None:
            # Kept per token as well (rows are windows in text order, masked positions
            # dropped); the sum above stays as it was, so the perplexity is the same number.
            per_token = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none"
            )
            token_nll.append(per_token[targets.reshape(-1) != -100].double().cpu())
        nll_sum += nll.item()
        n_scored += int((targets != -100).sum().item())
    seconds = time.perf_counter() - start
    assert n_scored == len(ids) - 1
    result: dict[str, Any] = {
        "perplexity": math.exp(nll_sum / n_scored),
        "tokens": n_scored,
        "tokens_per_second": n_scored / seconds if seconds > 0 else 0.0,
    }
    if block_tokens is not None:
        if block_tokens < 1:
            raise TrainerError(f"block_tokens {block_tokens} must be >= 1")
        values = torch.cat(token_nll).numpy()
        blocks = max(1, len(values) // block_tokens)
        which = np.minimum(np.arange(len(values)) // block_tokens, blocks - 1)
        counts = np.bincount(which, minlength=blocks)
        sums = np.bincount(which, weights=values, minlength=blocks)
        result["block_nll"] = (sums / counts).tolist()
        result["block_counts"] = counts.tolist()
    return result


def evaluate_perplexity(
    model_dir: str | Path,
    *,
    text: str | Path | None = None,
    shards: str | Path | None = None,
    split: str = "val",
    block_size: int | None = None,
    stride: int | None = None,
    batch_size: int = 8,
    max_tokens: int | None = None,
    device: str = "auto",
) -> dict[str, float]:
    """`trainer eval`: perplexity of a checkpoint on a text file or on a shard split.

    block_size defaults to the context the checkpoint was trained with (run.json from
    `trainer pretrain`; positions beyond it were never trained) or else the model's
    n_positions, and stride to half of it, the trade-off Hugging Face's guide uses. With
    --shards the ids are checked against the model's vocabulary first, like pretrain does.
    """
    if (text is None) == (shards is None):
        raise TrainerError("give exactly one of --text or --shards")
    dev = resolve_device(device)
    if text is not None:
        ids = tokenize_file(model_dir, text)
        model = load_model(model_dir, dev)
        if len(ids) and int(ids.max()) >= model.config.vocab_size:
            raise TrainerError(
                f"{text}: token id {int(ids.max())} >= model vocab {model.config.vocab_size}; "
                "tokenizer.json does not match the model"
            )
    else:
        assert shards is not None
        opened = open_shards(shards)
        model = load_model(model_dir, dev)
        check_token_ids(opened, model.config.vocab_size, splits=(split,))
        ids = opened.split(split)
    if max_tokens is not None:
        if max_tokens < 2:
            raise TrainerError("--max-tokens must be >= 2")
        ids = ids[:max_tokens]
    n_positions = int(model.config.max_position_embeddings)
    block = block_size or trained_block_size(model_dir) or n_positions
    if not 1 <= block <= n_positions:
        raise TrainerError(f"--block-size {block} must be between 1 and n_positions {n_positions}")
    step = max(1, block // 2) if stride is None else stride
    if batch_size < 1:
        raise TrainerError("--batch-size must be >= 1")
    with autocast_for(dev):
        return sliding_perplexity(model, ids, block, step, batch_size=batch_size, device=dev)
