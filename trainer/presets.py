"""Model presets: turn a name (or a config.json) plus the shards' vocabulary into a GPT-2.

The vocabulary always comes from the shards' manifest, never from the preset, so that a
model trained on one tokenizer can never silently be fed ids from another. The size is
rounded up to a multiple of 64 (as nanoGPT does for 50257 -> 50304) because matmuls on
such sizes are faster; the extra rows are simply never used as targets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from trainer.errors import TrainerError

VOCAB_MULTIPLE = 64

# Dropout is 0 in every preset, and in a CONFIG.json that does not set it (GPT2Config's own
# default is 0.1): for pretraining on a corpus seen about once it only slows learning down
# (nanoGPT's advice). A CONFIG.json can still set it.
_NO_DROPOUT: dict[str, float] = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}

# GPT-2's GELU (Hendrycks & Gimpel 2016) in its tanh approximation, as PyTorch's fused
# kernel computes it; Hugging Face's "gelu_new" is the same formula in separate elementwise
# ops, 7-10% slower for a 3 x 256 training step on CPU. A CONFIG.json may choose another.
ACTIVATION = "gelu_pytorch_tanh"

PRESETS: dict[str, dict[str, Any]] = {
    # Small enough to learn something in minutes on a laptop CPU; used by the tests.
    "tiny": {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 256, **_NO_DROPOUT},
    # Shapes of the Hugging Face checkpoints of the same names (weights are never fetched).
    "distilgpt2": {"n_layer": 6, "n_head": 12, "n_embd": 768, "n_positions": 1024, **_NO_DROPOUT},
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, **_NO_DROPOUT},
}


def round_vocab(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """Round the vocabulary up to ``multiple`` (faster kernels, unused rows are harmless)."""
    return -(-vocab_size // multiple) * multiple


def build_config(model: str, vocab_size: int, eos_id: int) -> GPT2Config:
    """Make the GPT2Config for a preset name or a path to a CONFIG.json.

    ``vocab_size`` and ``eos_id`` come from the shards' manifest and override whatever the
    preset or file says; bos is set to eos too, as for the original GPT-2 (documents are
    separated by a single EOS, which therefore also starts the next one).
    """
    if model in PRESETS:
        fields: dict[str, Any] = dict(PRESETS[model])
    else:
        path = Path(model)
        if not path.is_file():
            names = ", ".join(PRESETS)
            raise TrainerError(f"--model {model}: not a preset ({names}) nor a config.json file")
        try:
            fields = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainerError(f"{path}: cannot read model config: {exc}") from exc
        if not isinstance(fields, dict):
            raise TrainerError(f"{path}: model config must be a JSON object")
        # A config.json saved by save_pretrained carries bookkeeping keys; keep only shapes.
        for key in ("architectures", "model_type", "transformers_version", "torch_dtype"):
            fields.pop(key, None)
    for key, value in {**_NO_DROPOUT, "activation_function": ACTIVATION}.items():
        fields.setdefault(key, value)
    fields.update(
        vocab_size=round_vocab(vocab_size),
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    config = GPT2Config(**fields)
    if config.n_embd % config.n_head != 0:
        raise TrainerError(f"--model {model}: n_embd {config.n_embd} not divisible by n_head")
    return config


def build_model(config: GPT2Config) -> GPT2LMHeadModel:
    """Instantiate a freshly initialised GPT-2 with SDPA attention.

    The caller seeds torch beforehand, which makes the initial weights reproducible.
    Warm starts from a checkpoint (``--init HF_DIR``) are built in trainer.student.
    """
    return GPT2LMHeadModel._from_config(config, attn_implementation="sdpa")


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied embedding/head counted once)."""
    return sum(p.numel() for p in model.parameters())


def flops_per_token(model: GPT2LMHeadModel, training: bool = True) -> float:
    """Kaplan et al. (2020)'s estimate: 6 N FLOPs per trained token, 2 N per forward only.

    N leaves out the position embeddings (a lookup, no multiply), as nanoGPT's MFU does;
    the tied token embedding counts once, for the head's matmul.
    """
    n = count_parameters(model) - model.transformer.wpe.weight.numel()
    return (6 if training else 2) * n
