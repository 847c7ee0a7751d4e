"""Token shards: open and validate nanoGPT-style ``train.bin``/``val.bin``, cut batches.

A shard directory holds flat little-endian token ids (documents separated by the EOS id)
and a ``manifest.json`` describing them. Everything that can be wrong with those files is
checked here, before any model is built, so a bad shard costs seconds rather than a
crashed run hours later (an out-of-range id only fails deep inside an embedding lookup).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.errors import TrainerError

SPLITS = ("train", "val")
DTYPES: dict[str, np.dtype] = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}
CHUNK_TOKENS = 1 << 24  # max-id scan granularity: bounded memory on multi-GB shards


@dataclass(frozen=True)
class Manifest:
    """What the other half of the project promises about a shard directory."""

    tokenizer: str
    vocab_size: int
    dtype: str
    eos_id: int
    train_tokens: int | None = None
    val_tokens: int | None = None
    train_docs: int | None = None
    val_docs: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Shards:
    """An opened shard directory: the manifest and one read-only memmap per split."""

    root: Path
    manifest: Manifest
    train: np.memmap
    val: np.memmap

    def split(self, name: str) -> np.memmap:
        if name not in SPLITS:
            raise TrainerError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
        return self.train if name == "train" else self.val

    def path(self, name: str) -> Path:
        return self.root / f"{name}.bin"


def read_manifest(root: Path) -> Manifest:
    """Read and type-check ``manifest.json``; every error names the file."""
    path = root / "manifest.json"
    if not path.is_file():
        raise TrainerError(f"{path}: missing shard manifest")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainerError(f"{path}: cannot parse manifest: {exc}") from exc
    if not isinstance(raw, dict):
        raise TrainerError(f"{path}: manifest must be a JSON object")
    for key in ("vocab_size", "dtype", "eos_id"):
        if key not in raw:
            raise TrainerError(f"{path}: manifest lacks {key!r}")
    dtype = raw["dtype"]
    if dtype not in DTYPES:
        raise TrainerError(f"{path}: dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    ints = ("vocab_size", "eos_id", "train_tokens", "val_tokens", "train_docs", "val_docs")
    for key in ints:
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TrainerError(f"{path}: {key} must be an integer, got {value!r}")
    vocab_size = raw["vocab_size"]
    if vocab_size <= 0:
        raise TrainerError(f"{path}: vocab_size must be positive, got {vocab_size}")
    if vocab_size > np.iinfo(DTYPES[dtype]).max + 1:
        raise TrainerError(f"{path}: vocab_size {vocab_size} does not fit dtype {dtype}")
    if not 0 <= raw["eos_id"] < vocab_size:
        raise TrainerError(f"{path}: eos_id {raw['eos_id']} outside vocab_size {vocab_size}")
    return Manifest(
        tokenizer=str(raw.get("tokenizer", "")),
        vocab_size=vocab_size,
        dtype=dtype,
        eos_id=raw["eos_id"],
        train_tokens=raw.get("train_tokens"),
        val_tokens=raw.get("val_tokens"),
        train_docs=raw.get("train_docs"),
        val_docs=raw.get("val_docs"),
    )


def _open_split(root: Path, name: str, manifest: Manifest) -> np.memmap:
    """Memory-map one split after checking its size agrees with the manifest's dtype."""
    path = root / f"{name}.bin"
    if not path.is_file():
        raise TrainerError(f"{path}: missing shard file")
    dtype = DTYPES[manifest.dtype]
    size = path.stat().st_size
    if size == 0:
        raise TrainerError(f"{path}: shard file is empty")
    if size % dtype.itemsize != 0:
        raise TrainerError(
            f"{path}: {size} bytes is not a multiple of {dtype.itemsize} "
            f"(manifest dtype {manifest.dtype}); dtype mismatch?"
        )
    n_tokens = size // dtype.itemsize
    expected = manifest.train_tokens if name == "train" else manifest.val_tokens
    if expected is not None and expected != n_tokens:
        raise TrainerError(
            f"{path}: holds {n_tokens} {manifest.dtype} tokens but manifest says "
            f"{name}_tokens={expected}; dtype mismatch?"
        )
    return np.memmap(path, dtype=dtype, mode="r")


def open_shards(shards_dir: str | Path) -> Shards:
    """Open a shard directory, checking manifest and file sizes (not yet the ids)."""
    root = Path(shards_dir)
    if not root.is_dir():
        raise TrainerError(f"{root}: shards directory does not exist")
    manifest = read_manifest(root)
    train = _open_split(root, "train", manifest)
    val = _open_split(root, "val", manifest)
    return Shards(root=root, manifest=manifest, train=train, val=val)


def find_tokenizer(shards_dir: Path) -> Path | None:
    """The shards' tokenizer.json: in the shard directory or its parent (corpusclean's
    layout keeps it beside the shard directory); the first found wins."""
    for candidate in (shards_dir / "tokenizer.json", shards_dir.parent / "tokenizer.json"):
        if candidate.is_file():
            return candidate
    return None


def max_token_id(data: np.ndarray, chunk: int = CHUNK_TOKENS) -> int:
    """Largest id in a (possibly multi-GB) memmap, scanned in chunks to bound memory."""
    return max(int(np.max(data[i : i + chunk])) for i in range(0, len(data), chunk))


def check_token_ids(shards: Shards, vocab_size: int, splits: Sequence[str] = SPLITS) -> None:
    """Fail if any id could not be looked up in an embedding of ``vocab_size`` rows.

    The limit is the manifest's vocab_size or the model's, whichever is smaller: an id the
    manifest does not admit means the shard and manifest disagree, even if the (rounded)
    model would happen to accept it.
    """
    limit = min(vocab_size, shards.manifest.vocab_size)
    for name in splits:
        top = max_token_id(shards.split(name))
        if top >= limit:
            raise TrainerError(
                f"{shards.path(name)}: token id {top} >= vocab size {limit} "
                f"(manifest vocab_size={shards.manifest.vocab_size}, model vocab={vocab_size})"
            )


def check_length(shards: Shards, block_size: int) -> None:
    """Both splits must hold at least one full training window of block_size + 1 tokens."""
    for name in SPLITS:
        n = len(shards.split(name))
        if n < block_size + 1:
            raise TrainerError(
                f"{shards.path(name)}: only {n} tokens, fewer than block_size + 1 = "
                f"{block_size + 1}"
            )


def windows_to_batch(
    data: np.ndarray, starts: np.ndarray, block_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut windows of block_size + 1 tokens at ``starts`` into inputs x and targets y.

    y is x shifted by one, so the loss needs no further shifting; both are int64 because
    that is what embedding lookups and cross-entropy take.
    """
    rows = np.stack([np.asarray(data[s : s + block_size + 1], dtype=np.int64) for s in starts])
    xy = torch.from_numpy(rows)
    x, y = xy[:, :-1], xy[:, 1:]
    if device.type == "cuda":
        # Pinned host memory lets the copy overlap with the previous step's compute.
        return (
            x.pin_memory().to(device, non_blocking=True),
            y.pin_memory().to(device, non_blocking=True),
        )
    return x.contiguous(), y.contiguous()


def random_starts(
    data: np.ndarray, batch_size: int, block_size: int, generator: torch.Generator
) -> np.ndarray:
    """Starts of ``batch_size`` uniformly random windows, drawn from ``generator``.

    The generator's state is the whole data position: saving it is enough to resume the
    exact batch sequence, and every data-parallel rank draws the same global batch.
    """
    high = len(data) - block_size  # last valid start is len - (block_size + 1)
    return torch.randint(high, (batch_size,), generator=generator).numpy()


def fixed_starts(data: np.ndarray, n_windows: int, block_size: int) -> np.ndarray:
    """Evenly spaced window starts over the whole split.

    Validation uses these rather than random draws so that every evaluation in a run, and
    every run whatever its --seed, scores exactly the same tokens: differences in val loss
    are then differences between models, not between samples.
    """
    last = len(data) - block_size - 1
    return np.linspace(0, last, num=n_windows).round().astype(np.int64)
