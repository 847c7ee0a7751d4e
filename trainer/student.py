"""The model a run trains: from a preset, a checkpoint as is, or a truncated checkpoint.

Truncation (``--init HF_DIR --keep-layers SPEC``) is the cheap alternative to distillation
that Li et al. (2021, "A Short Study on Compressing Decoder-Based Language Models",
arXiv:2110.08460) compare with DistilGPT-2: the student keeps the teacher's token and
position embeddings, a subset of its transformer blocks in their original order, the final
layer norm and the (tied) head, then continues pretraining. SPEC is an explicit list of
0-based block indices or one of the strategies, named as in the paper authors' code:

    distil    0,2,4,7,9,11  the blocks DistilGPT-2 was initialised from (Sanh et al. 2019)
    alt       0,2,4,...     every other block, starting at the first
    bottom:N  0..N-1        the first N blocks
    top:N     L-N..L-1      the last N blocks
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.activations import GELUTanh

from trainer.config import PretrainConfig
from trainer.data import Shards, check_length, check_token_ids
from trainer.errors import TrainerError
from trainer.presets import build_config, build_model

DISTIL_LAYERS = (0, 2, 4, 7, 9, 11)


def parse_keep_layers(spec: str, n_layer: int, source: str = "the checkpoint") -> list[int]:
    """Turn a --keep-layers SPEC into 0-based block indices of an ``n_layer``-block model."""
    where = f"--keep-layers {spec}"
    text = spec.strip()
    if text == "distil":
        if n_layer != 12:
            raise TrainerError(
                f"{where}: 'distil' (0,2,4,7,9,11) is defined for 12-layer models, "
                f"{source} has {n_layer}; give an explicit list"
            )
        return list(DISTIL_LAYERS)
    if text == "alt":
        return list(range(0, n_layer, 2))
    if text.startswith(("bottom:", "top:")):
        side, _, count = text.partition(":")
        if not count.isdigit() or not 1 <= int(count) <= n_layer:
            raise TrainerError(f"{where}: N must be between 1 and {n_layer} ({source})")
        n = int(count)
        return list(range(n)) if side == "bottom" else list(range(n_layer - n, n_layer))
    try:
        layers = [int(part) for part in text.split(",")]
    except ValueError:
        raise TrainerError(
            f"{where}: expected a list like 0,2,4 or one of distil, alt, bottom:N, top:N"
        ) from None
    for layer in layers:
        if not 0 <= layer < n_layer:
            raise TrainerError(
                f"{where}: layer {layer} is out of range; {source} has {n_layer} layers "
                f"(0-{n_layer - 1})"
            )
    if any(b <= a for a, b in zip(layers, layers[1:], strict=False)):
        raise TrainerError(f"{where}: list the layers in increasing order, without repeats")
    return layers


def load_gpt2(path: str | Path, flag: str, dtype: torch.dtype = torch.float32) -> GPT2LMHeadModel:
    """Load a GPT-2 checkpoint directory (config.json + weights) with SDPA attention.

    Weights are cast to ``dtype`` whatever they were saved in: fp32 for a model to train
    (its optimizer needs fp32 master weights), possibly bf16 for a frozen teacher.
    """
    root = Path(path)
    config_file = root / "config.json"
    if not config_file.is_file():
        raise TrainerError(f"{flag} {root}: no config.json; expected a Hugging Face checkpoint")
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise TrainerError(f"{config_file}: cannot read config: {exc}") from exc
    if model_type != "gpt2":
        raise TrainerError(f"{config_file}: model_type {model_type!r}, only gpt2 is supported")
    try:
        model = GPT2LMHeadModel.from_pretrained(root, attn_implementation="sdpa", dtype=dtype)
    except (OSError, ValueError) as exc:
        raise TrainerError(f"{flag} {root}: cannot load weights: {exc}") from exc
    return model


def truncate(model: GPT2LMHeadModel, keep: list[int]) -> GPT2LMHeadModel:
    """A new GPT-2 with ``model``'s embeddings, the blocks ``keep`` (in order) and ln_f.

    Weights are copied, not shared, so training the student leaves the source untouched.
    """
    fields = model.config.to_dict()
    fields["n_layer"] = len(keep)
    config = GPT2Config.from_dict(fields)
    student = GPT2LMHeadModel._from_config(config, attn_implementation="sdpa")
    source = model.state_dict()
    state = {}
    for key in student.state_dict():
        parts = key.split(".")
        if key.startswith("transformer.h."):
            parts[2] = str(keep[int(parts[2])])  # student block j <- source block keep[j]
        state[key] = source[".".join(parts)].detach().clone()
    student.load_state_dict(state)
    student.tie_weights()
    return student


def fuse_gelu(model: GPT2LMHeadModel) -> int:
    """Run a "gelu_new" model's MLPs with PyTorch's fused tanh-GELU kernel; blocks changed.

    "gelu_new" (OpenAI GPT-2's activation, what GPT2Config defaults to and what Hugging
    Face's gpt2 and distilgpt2 checkpoints use) is the tanh approximation of GELU
    (Hendrycks & Gimpel 2016) written as separate elementwise ops; F.gelu(approximate=
    "tanh") is the same formula in one kernel, equal up to float rounding. Used for a frozen
    teacher, whose forward is a third of a distillation step; its config is left as loaded.
    """
    if model.config.activation_function != "gelu_new":
        return 0
    for block in model.transformer.h:
        block.mlp.act = GELUTanh()
    return len(model.transformer.h)


def build_student(
    cfg: PretrainConfig, shards: Shards
) -> tuple[GPT2LMHeadModel, list[int] | None, str]:
    """The model to train, the blocks it kept (truncation) and a one-line description.

    --init scratch builds --model (a preset or CONFIG.json) with the shards' vocabulary;
    --init HF_DIR continues from the checkpoint, truncated to --keep-layers when given.
    The caller seeds torch first, so a scratch initialisation is reproducible. The model is
    checked to fit the shards: --block-size within its positions, a whole window in each
    split, every token id within its vocabulary.
    """
    model, keep, description = _model_from_options(cfg, shards)
    config = model.config
    if cfg.block_size > config.n_positions:
        raise TrainerError(
            f"--block-size {cfg.block_size} exceeds the model's n_positions "
            f"{config.n_positions} ({description})"
        )
    check_length(shards, cfg.block_size)
    check_token_ids(shards, config.vocab_size)
    return model, keep, description


def _model_from_options(
    cfg: PretrainConfig, shards: Shards
) -> tuple[GPT2LMHeadModel, list[int] | None, str]:
    manifest = shards.manifest
    if cfg.init == "scratch":
        if cfg.keep_layers is not None:
            raise TrainerError("--keep-layers needs --init HF_DIR (the checkpoint to truncate)")
        name = cfg.model or "tiny"
        model = build_model(build_config(name, manifest.vocab_size, manifest.eos_id))
        return model, None, f"model {name}"
    if cfg.model is not None:
        raise TrainerError(f"--model applies to --init scratch; --init {cfg.init} sets the shape")
    source = load_gpt2(cfg.init, "--init")
    vocab = source.config.vocab_size
    if manifest.vocab_size > vocab:
        raise TrainerError(
            f"{cfg.shards}: the shards' vocabulary (manifest vocab_size {manifest.vocab_size}) "
            f"exceeds --init {cfg.init}'s vocab {vocab}"
        )
    if cfg.keep_layers is None:
        return source, None, f"--init {cfg.init}"
    keep = parse_keep_layers(cfg.keep_layers, source.config.n_layer, f"--init {cfg.init}")
    description = f"--init {cfg.init} truncated to blocks {','.join(map(str, keep))}"
    return truncate(source, keep), keep, description
