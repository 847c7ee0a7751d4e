"""Ablations: train one student per (variant, seed) on equal terms and compare perplexities.

Why this exists
---------------
Li et al. (2021, "A Short Study on Compressing Decoder-Based Language Models",
arXiv:2110.08460) end on the claim that cleaning the pretraining data changes the quality of a
compressed GPT-2. FineWeb (Penedo et al. 2024) and DCLM (Li et al. 2024) settled such questions
by training small models on each data variant and comparing held-out scores; this module does
the same at laptop scale, and says plainly when the answer is within seed noise.

What "equal terms" means here, and how it is enforced
-----------------------------------------------------
* One tokenizer: every variant's shards must carry the same ``tokenizer.json`` (by SHA-256) and
  manifest vocabulary, or the run stops before training.
* One initialisation per seed: the initial weights are built once per seed into
  ``OUT/init/seed-K`` (scratch) or once for all seeds (a truncated teacher, the paper's route)
  and every variant starts from that directory; the SHA-256 of the weights is in every run's
  record, so equality is checkable after the fact.
* One budget: the same ``--tokens`` (hence steps, batch, block, schedule) for every run.
* Paired seeds: seed K gives variants A and B the same initial weights and the same stream of
  batch-position random numbers (the positions differ only because the corpora differ).

The trainer knows nothing of cleaning: a variant is a name and a shard directory. Comparisons
are pairs ``(without, with)`` given by the caller (``corpusclean ablate`` asks "does step S
help?" as ``-S`` versus ``clean``); ``trainer ablate`` compares every variant with the first.
This module runs the ablation; its statistics and verdict rule are trainer/ablation_stats.py's.

Each run is trained in chunks with ``pretrain(..., stop_after=k)`` / ``resume``, which reproduce
an uninterrupted run exactly, and scored after each chunk on the evaluation text and on a shared
held-out slice: that gives learning curves, and an interrupted ablation continues where it
stopped. A finished run whose inputs and settings hash to the same key is reused, not retrained.

With ``--executor ray`` every unfinished (variant, seed) run is one Ray task (trainer/ray_runs.py):
the same ``run_one`` with the same arguments and the same keys, writing into the same
``OUT/runs`` folders, so a leave-one-out ablation spreads over a cluster's GPUs and gives the
numbers of a local run, which tests/test_ablation_ray.py checks to the last bit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.ablation_stats import (
    compare,
    data_difference,
    mean_and_std,
    pooled_training_noise,
)
from trainer.data import find_tokenizer, open_shards
from trainer.device import resolve_device
from trainer.errors import TrainerError
from trainer.perplexity import sliding_perplexity

RECORD = "ablation_run.json"
RECORD_VERSION = 1


@dataclass(frozen=True)
class Comparison:
    """Is ``with_`` better than ``without``? ``label`` names what differs (a step, a variant)."""

    label: str
    without: str
    with_: str
    #: how the two variants' data differ, as the caller measured it (corpusclean ablate: what
    #: only the step removes, by count and by id); merged over the trainer's own figures from
    #: the manifests into the comparison's ``unique`` (trainer/ablation_stats.py)
    unique: dict[str, Any] | None = None
    #: the caller's words for why (near-)identical data make the comparison "redundant"
    same_data_note: str = ""


@dataclass
class AblationConfig:
    """Everything an ablation needs; the CLIs fill it from flags."""

    variants: dict[str, str]  # name -> shard directory, in report order
    eval_text: str  # the evaluation text the verdicts are about
    out: str
    tokens: int = 1_000_000
    seeds: tuple[int, ...] = (1, 2)
    comparisons: list[Comparison] | None = None  # default: every variant vs the first
    more_evals: tuple[str, ...] = ()  # further evaluation texts, scored and reported too
    heldout: str | None = None  # shard dir whose val split every variant is scored on
    curve_points: int = 5
    eval_tokens: int | None = 100_000  # tokens of the eval text (and held-out slice) scored
    eval_stride: int | None = None  # default: block_size // 2
    #: scored tokens per block of the final evaluation's per-block losses (the interval of
    #: trainer/ablation_stats.py); not part of a run's key: it changes no training
    eval_block_tokens: int = 2048
    model: str | None = None  # preset or CONFIG.json for a scratch init (default: tiny)
    init: str = "scratch"  # or a Hugging Face checkpoint dir (with keep_layers: truncated)
    keep_layers: str | None = None
    teacher: str | None = None
    kd: str | None = None
    batch_size: int = 16
    block_size: int = 128
    lr: float = 6e-4
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    eval_batches: int = 8
    docs: dict[str, int] | None = None  # documents per variant, when the caller knows them
    extra: dict[str, Any] = field(default_factory=dict)  # caller's context, kept in the JSON
    #: per variant, {eval text: {"ngram_overlap", "docs", ...}}: how much of each evaluation
    #: text the variant's training documents hold, measured by the caller (the trainer knows
    #: no documents, only shards); kept in each variant's entry of the JSON and reported
    contamination: dict[str, dict[str, dict[str, Any]]] | None = None
    quiet: bool = False
    executor: str = "local"  # or "ray": each (variant, seed) run a Ray task (trainer/ray_runs.py)
    address: str | None = None  # the Ray cluster; None starts a local instance


# -- inputs -----------------------------------------------------------------------------------


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_variants(cfg: AblationConfig) -> dict[str, Any]:
    """Validate the variants share one tokenizer; return what identifies each one's data."""
    if not cfg.variants:
        raise TrainerError("give at least one --variant NAME=SHARDS_DIR")
    if not cfg.seeds:
        raise TrainerError("--seeds must be >= 1")
    if cfg.curve_points < 1:
        raise TrainerError("--curve-points must be >= 1")
    for text in (cfg.eval_text, *cfg.more_evals):
        if not Path(text).is_file():
            raise TrainerError(f"{text}: evaluation text file does not exist")
    shared: tuple[str, int, int, str] | None = None
    first = ""
    data: dict[str, Any] = {}
    for name, directory in cfg.variants.items():
        shards = open_shards(directory)  # raises TrainerError naming the file
        tokenizer = find_tokenizer(shards.root)
        if tokenizer is None:
            raise TrainerError(
                f"variant {name}: {shards.root} has no tokenizer.json (nor its parent); an "
                "ablation must know that every variant uses the same tokenizer"
            )
        m = shards.manifest
        identity = (sha256_file(tokenizer), m.vocab_size, m.eos_id, m.dtype)
        if shared is None:
            shared, first = identity, name
        elif identity != shared:
            raise TrainerError(
                f"variants {first} and {name} do not share one tokenizer "
                f"({find_tokenizer(open_shards(cfg.variants[first]).root)} vs {tokenizer}: "
                "tokenizer.json, vocab_size, eos_id and dtype must all match); tokenize every "
                "variant with the same tokenizer"
            )
        data[name] = {
            "shards": str(shards.root.resolve()),
            "manifest": m.to_dict(),
            "train_sha256": sha256_file(shards.path("train")),
            "val_sha256": sha256_file(shards.path("val")),
        }
    assert shared is not None
    tokenizer = find_tokenizer(open_shards(cfg.variants[first]).root)
    assert tokenizer is not None
    return {"tokenizer": str(tokenizer), "tokenizer_sha256": shared[0], "variants": data}


def eval_ids(tokenizer: Path, text_file: Path, limit: int | None) -> np.ndarray:
    """The evaluation text as token ids (the first ``limit`` of them)."""
    from tokenizers import Tokenizer

    text = text_file.read_text(encoding="utf-8")
    ids = np.asarray(Tokenizer.from_file(str(tokenizer)).encode(text).ids, dtype=np.int64)
    if len(ids) < 2:
        raise TrainerError(f"{text_file}: fewer than 2 tokens to evaluate on")
    return ids[:limit] if limit else ids


def heldout_ids(directory: str, limit: int | None) -> np.ndarray:
    """The shared held-out slice: the start of one variant's validation split."""
    val = open_shards(directory).val
    ids = np.asarray(val[:limit] if limit else val, dtype=np.int64)
    if len(ids) < 2:
        raise TrainerError(f"{directory}: its val split has fewer than 2 tokens")
    return ids


def weights_sha256(state: dict[str, torch.Tensor]) -> str:
    """A hash of the weights themselves (names, shapes, bytes), independent of file layout."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def build_inits(cfg: AblationConfig, vocab_size: int, eos_id: int) -> dict[int, tuple[str, str]]:
    """Per seed: (initial checkpoint dir, weights SHA-256), built once and shared by variants.

    Scratch: a fresh ``--model`` seeded with the seed (as ``trainer pretrain`` would build
    it). ``--init HF_DIR``: the checkpoint, truncated to ``--keep-layers`` if given; the same
    weights for every seed (the seeds then differ only in batch order).
    """
    from trainer.presets import build_config, build_model
    from trainer.student import load_gpt2, parse_keep_layers, truncate

    root = Path(cfg.out) / "init"
    inits: dict[int, tuple[str, str]] = {}
    shared: tuple[str, str] | None = None
    for seed in cfg.seeds:
        if cfg.init != "scratch" and shared is not None:
            inits[seed] = shared
            continue
        target = root / ("shared" if cfg.init != "scratch" else f"seed-{seed}")
        if cfg.init == "scratch":
            if cfg.keep_layers is not None:
                raise TrainerError("--keep-layers needs --init HF_DIR (the checkpoint to truncate)")
            torch.manual_seed(seed)
            model = build_model(build_config(cfg.model or "tiny", vocab_size, eos_id))
        else:
            if cfg.model is not None:
                raise TrainerError(
                    "--model applies to --init scratch; --init HF_DIR sets the shape"
                )
            model = load_gpt2(cfg.init, "--init")
            if model.config.vocab_size < vocab_size:
                raise TrainerError(
                    f"--init {cfg.init}: vocab {model.config.vocab_size} is smaller than the "
                    f"shards' vocab_size {vocab_size}"
                )
            if cfg.keep_layers is not None:
                keep = parse_keep_layers(
                    cfg.keep_layers, model.config.n_layer, f"--init {cfg.init}"
                )
                model = truncate(model, keep)
        digest = weights_sha256(model.state_dict())
        marker = target / "weights.sha256"
        if not (marker.is_file() and marker.read_text().strip() == digest):
            shutil.rmtree(target, ignore_errors=True)
            model.save_pretrained(target)
            marker.write_text(digest + "\n")
        inits[seed] = (str(target), digest)
        if cfg.init != "scratch":
            shared = inits[seed]
    return inits


def extra_eval_names(cfg: AblationConfig) -> dict[str, str]:
    """``{"eval_2": path, ...}``: the keys under which further evaluation texts are scored."""
    return {f"eval_{i}": text for i, text in enumerate(cfg.more_evals, start=2)}


# -- one run ------------------------------------------------------------------------------------


def curve_steps(total_steps: int, points: int) -> list[int]:
    """The steps at which a run is scored: ``points`` evenly spaced ones ending at the last."""
    return sorted({max(1, round(total_steps * i / points)) for i in range(1, points + 1)})


def _score(
    model_dir: Path,
    ids: dict[str, np.ndarray],
    block: int,
    stride: int,
    device: torch.device,
    block_tokens: int | None = None,
) -> dict[str, dict[str, Any]]:
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(model_dir, attn_implementation="sdpa").to(device).eval()
    return {
        name: sliding_perplexity(
            model, values, block, stride, batch_size=16, device=device, block_tokens=block_tokens
        )
        for name, values in ids.items()
    }


def run_one(
    cfg: AblationConfig,
    variant: str,
    seed: int,
    init: tuple[str, str],
    key: str,
    ids: dict[str, np.ndarray],
    say: Any,
) -> dict[str, Any]:
    """Train (or reuse) one (variant, seed) run, scoring it at every curve point."""
    from trainer.config import PretrainConfig
    from trainer.pretrain import pretrain

    run_dir = run_path(cfg, variant, seed)
    record_path = run_dir / RECORD
    record = _read_record(record_path)
    if record is not None and record.get("key") == key and record.get("finished"):
        say(f"{variant} seed {seed}: reusing the finished run in {run_dir}")
        record["reused"] = True
        return record
    tokens_per_step = cfg.batch_size * cfg.block_size
    total = math.ceil(cfg.tokens / tokens_per_step)
    points = curve_steps(total, cfg.curve_points)
    train_dir = run_dir / "train"
    device = resolve_device(cfg.device)
    stride = cfg.eval_stride or max(1, cfg.block_size // 2)
    can_resume = (
        record is not None
        and record.get("key") == key
        and record["points"]
        and (train_dir / "checkpoint" / "trainer_state.pt").is_file()
    )
    if not can_resume:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        say(f"{variant} seed {seed}: scoring the initial weights")
        start = time.perf_counter()
        scores = _score(Path(init[0]), ids, cfg.block_size, stride, device)
        record = {
            "version": RECORD_VERSION,
            "key": key,
            "variant": variant,
            "seed": seed,
            "shards": str(Path(cfg.variants[variant]).resolve()),
            "init": init[0],
            "init_sha256": init[1],
            "tokens": total * tokens_per_step,
            "steps": total,
            "batch_size": cfg.batch_size,
            "block_size": cfg.block_size,
            "lr": cfg.lr,
            "points": [{"step": 0, "tokens": 0, **_ppl_fields(scores)}],
            "train_seconds": 0.0,
            "eval_seconds": time.perf_counter() - start,
            "finished": False,
        }
        _write_json(record_path, record)
    assert record is not None
    done = record["points"][-1]["step"]
    for step in points:
        if step <= done:
            continue
        last = step == total
        say(f"{variant} seed {seed}: training to step {step}/{total}")
        train_cfg = PretrainConfig(
            shards=cfg.variants[variant],
            out=str(train_dir),
            init=init[0],
            keep_layers=None,
            tokens=cfg.tokens,
            batch_size=cfg.batch_size,
            block_size=cfg.block_size,
            lr=cfg.lr,
            seed=seed,
            device=cfg.device,
            dtype=cfg.dtype,
            compile=cfg.compile,
            eval_interval=points[0],
            eval_batches=cfg.eval_batches,
            teacher=cfg.teacher,
            kd=cfg.kd,
            stop_after=None if last else step,
            resume=done > 0,
            quiet=True,
        )
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its own summary lines: ours suffice
            pretrain(train_cfg)
        record["train_seconds"] += time.perf_counter() - start
        start = time.perf_counter()
        # The final model is saved in train_dir; a stopped run's in its checkpoint (both are
        # from_pretrained directories).
        model_dir = train_dir if last else train_dir / "checkpoint"
        # The final evaluation also keeps its per-block losses (the verdict's interval).
        blocks = cfg.eval_block_tokens if last else None
        scores = _score(model_dir, ids, cfg.block_size, stride, device, blocks)
        record["eval_seconds"] += time.perf_counter() - start
        record["points"].append(
            {
                "step": step,
                "tokens": step * tokens_per_step,
                **_ppl_fields(scores),
                **_block_fields(scores, blocks),
            }
        )
        done = step
        record["finished"] = last
        _write_json(record_path, record)
    record["log"] = str(train_dir / "log.jsonl")
    record["reused"] = False
    _write_json(record_path, record)
    shutil.rmtree(train_dir / "checkpoint", ignore_errors=True)  # the final model stays
    return record


def twin_runs(
    order: list[tuple[int, str]], keys: dict[tuple[int, str], str]
) -> dict[tuple[int, str], str]:
    """``{(seed, variant): earlier variant}`` for runs whose key an earlier run has.

    The key covers the data's hashes, the initial weights and every setting, and a run is a
    deterministic function of them (resume and Ray runs are checked bit for bit), so a
    variant whose shards are byte-identical to another's (a step that is redundant in its
    rules: ``-exact_dedup`` with ``minhash_dedup`` after it) would train the same weights
    again. Its runs are the twin's, reported under its own name (``share_run``).
    """
    first: dict[str, str] = {}
    twins: dict[tuple[int, str], str] = {}
    for seed, name in order:
        twin = first.setdefault(keys[seed, name], name)
        if twin != name:
            twins[seed, name] = twin
    return twins


def share_run(variant: str, seed: int, twin: str, record: dict[str, Any], say: Any) -> dict:
    """The twin's finished record as ``variant``'s run (``same_as`` names the twin); nothing
    is written, so no copy can go stale when the twin is trained again."""
    say(f"{variant} seed {seed}: the same data, initial weights and settings as {twin}: "
        f"its run, not trained again")  # fmt: skip
    return {**record, "same_as": twin, "reused": True}


def run_path(cfg: AblationConfig, variant: str, seed: int) -> Path:
    """The folder of one (variant, seed) run: its record, training log and final model."""
    return Path(cfg.out) / "runs" / safe_name(variant) / f"seed-{seed}"


def _read_record(path: Path) -> dict[str, Any] | None:
    """A run's record, or None when there is none or it is torn (then the run starts over)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def is_finished(cfg: AblationConfig, variant: str, seed: int, key: str) -> bool:
    """True when the run's record says it finished with the same key (run_one reuses it)."""
    record = _read_record(run_path(cfg, variant, seed) / RECORD)
    return record is not None and record.get("key") == key and bool(record.get("finished"))


def _ppl_fields(scores: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {f"{name}_ppl": value["perplexity"] for name, value in scores.items()}


def _block_fields(scores: dict[str, dict[str, Any]], block_tokens: int | None) -> dict[str, Any]:
    """``{"blocks": {"tokens": N, TEXT: {"nll": [...], "counts": [...]}}}`` (final point)."""
    if block_tokens is None:
        return {}
    return {
        "blocks": {
            "tokens": block_tokens,
            **{
                name: {"nll": value["block_nll"], "counts": value["block_counts"]}
                for name, value in scores.items()
            },
        }
    }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def safe_name(variant: str) -> str:
    """A directory name for a variant (``-minhash_dedup`` -> ``minus-minhash_dedup``)."""
    name = variant.replace("-", "minus-", 1) if variant.startswith("-") else variant
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def data_identity(variant: dict[str, Any]) -> dict[str, Any]:
    """A variant's data by content: the shards' hashes and counts, not their folder nor where
    the tokenizer came from (its hash is in the key), so byte-identical variants share runs."""
    manifest = {k: v for k, v in variant["manifest"].items() if k != "tokenizer"}
    return {"train": variant["train_sha256"], "val": variant["val_sha256"], "manifest": manifest}


def run_key(
    cfg: AblationConfig, data: dict[str, Any], variant: str, init_sha: str, eval_sha: str
) -> str:
    """What must be equal for a finished run to be reused: data, init and every setting."""
    settings = {
        k: v
        for k, v in asdict(cfg).items()
        if k
        not in (
            "variants",
            "out",
            "seeds",
            "comparisons",
            "docs",
            "extra",
            "contamination",
            "eval_block_tokens",
            "quiet",
            "device",
            "compile",
            "heldout",
            "eval_text",
            "executor",
            "address",
        )
    }
    blob = json.dumps(
        {
            "version": RECORD_VERSION,
            "data": data_identity(data["variants"][variant]),
            "tokenizer": data["tokenizer_sha256"],
            "init": init_sha,
            "eval": eval_sha,
            "settings": settings,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# -- the document ----------------------------------------------------------------------------


def summarise(
    cfg: AblationConfig,
    data: dict[str, Any],
    runs: dict[str, dict[int, dict[str, Any]]],
    inits: dict[int, tuple[str, str]],
) -> dict[str, Any]:
    """The ablation.json document (docs/contract.md's fields first, then the details)."""
    seeds = tuple(cfg.seeds)
    variants: dict[str, Any] = {}
    for name in cfg.variants:
        finals = [runs[name][s]["points"][-1] for s in seeds]
        ppl = [p["eval_ppl"] for p in finals]
        mean, std = mean_and_std(ppl)
        manifest = data["variants"][name]["manifest"]
        docs = (cfg.docs or {}).get(name, manifest["train_docs"] + manifest["val_docs"])
        variants[name] = {
            "docs": docs,
            "train_tokens": manifest["train_tokens"],
            "eval_ppl": ppl,
            "eval_ppl_mean": mean,
            "eval_ppl_std": std,
            "seconds": sum(
                runs[name][s]["train_seconds"] + runs[name][s]["eval_seconds"] for s in seeds
            ),
            "heldout_ppl": [p.get("heldout_ppl") for p in finals],
            **{
                f"{key}_ppl": [p.get(f"{key}_ppl") for p in finals] for key in extra_eval_names(cfg)
            },
            "epochs": runs[name][seeds[0]]["tokens"] / max(1, manifest["train_tokens"]),
            "shards": data["variants"][name]["shards"],
            **(
                {"contamination": cfg.contamination[name]}
                if cfg.contamination and name in cfg.contamination
                else {}
            ),
            "runs": {
                str(s): {
                    # a shared run lives in its twin's folder
                    "dir": str(run_path(cfg, runs[name][s].get("same_as", name), s)),
                    **({"same_as": runs[name][s]["same_as"]} if "same_as" in runs[name][s] else {}),
                    "init_sha256": runs[name][s]["init_sha256"],
                    "train_seconds": runs[name][s]["train_seconds"],
                    "eval_seconds": runs[name][s]["eval_seconds"],
                    "reused": runs[name][s].get("reused", False),
                    "points": runs[name][s]["points"],
                }
                for s in seeds
            },
        }
    comparisons = cfg.comparisons or [
        Comparison(
            label=f"{name} vs {next(iter(cfg.variants))}",
            without=next(iter(cfg.variants)),
            with_=name,
        )
        for name in list(cfg.variants)[1:]
    ]
    first_run = runs[next(iter(cfg.variants))][seeds[0]]
    pool = pooled_training_noise(runs, seeds, list(cfg.variants))
    return {
        "eval": str(cfg.eval_text),
        "tokens_per_run": first_run["tokens"],
        "more_evals": extra_eval_names(cfg),
        "seeds": list(seeds),
        "variants": variants,
        "comparisons": [
            compare(
                c.label,
                c.without,
                c.with_,
                runs,
                seeds,
                difference={
                    **data_difference(data["variants"][c.without], data["variants"][c.with_]),
                    **(c.unique or {}),
                },
                same_data_note=c.same_data_note,
                pool=pool,
            )
            for c in comparisons
        ],
        "pooled_training_noise": pool,
        "settings": {
            "model": cfg.model or ("tiny" if cfg.init == "scratch" else None),
            "init": cfg.init,
            "keep_layers": cfg.keep_layers,
            "teacher": cfg.teacher,
            "kd": cfg.kd,
            "steps": first_run["steps"],
            "batch_size": cfg.batch_size,
            "block_size": cfg.block_size,
            "lr": cfg.lr,
            "dtype": cfg.dtype,
            "eval_tokens": cfg.eval_tokens,
            "eval_stride": cfg.eval_stride or max(1, cfg.block_size // 2),
            "eval_block_tokens": cfg.eval_block_tokens,
            "heldout": cfg.heldout,
            "curve_points": cfg.curve_points,
        },
        "tokenizer": data["tokenizer"],
        "tokenizer_sha256": data["tokenizer_sha256"],
        "init_sha256": {str(s): inits[s][1] for s in seeds},
        **cfg.extra,
    }


# -- on a Ray cluster ------------------------------------------------------------------------------


def _say_nothing(message: str) -> None:
    """A task's progress lines are the driver's to print (trainer/ray_runs.py)."""


def run_one_task(
    cfg: AblationConfig,
    variant: str,
    seed: int,
    init: tuple[str, str],
    key: str,
    ids: dict[str, np.ndarray],
) -> dict[str, Any]:
    """run_one inside a Ray task: the same code, the same arguments, so the same numbers."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    return run_one(cfg, variant, seed, init, key, ids, _say_nothing)


def _absolute(path: str | None) -> str | None:
    """A path as every node sees it (a task's working folder is not the driver's)."""
    return str(Path(path).resolve()) if path and Path(path).exists() else path


def run_on_ray(
    cfg: AblationConfig,
    order: list[tuple[int, str]],
    keys: dict[tuple[int, str], str],
    inits: dict[int, tuple[str, str]],
    ids: dict[str, np.ndarray],
    say: Any,
) -> dict[tuple[int, str], dict[str, Any]]:
    """Every (seed, variant) run as one Ray task; finished runs are reused without Ray.

    The tasks get the driver's configuration with its paths made absolute (the keys are the
    driver's, computed before, so a run trained locally is reused by Ray and the other way
    round) and write their records into the same ``OUT/runs`` folders as local runs. A CPU
    task gets as many cores as this process has PyTorch threads, since the thread count
    changes a CPU matmul's last digits (trainer/ray_runs.py): on a node of that size the
    numbers are a local run's. On GPUs each task has one card, and its numbers are those of a
    local run on that card as far as the card's kernels repeat themselves (CUDA's atomic-add
    backward kernels, e.g. the embedding's, need not; not yet checked on a GPU here).
    """
    from trainer.ray_runs import run_jobs

    records: dict[tuple[int, str], dict[str, Any]] = {}
    todo = []
    for seed, name in order:
        if is_finished(cfg, name, seed, keys[seed, name]):
            records[seed, name] = run_one(cfg, name, seed, inits[seed], keys[seed, name], ids, say)
        else:
            todo.append((seed, name))
    if not todo:
        return records
    task_cfg = replace(
        cfg,
        out=str(Path(cfg.out).resolve()),
        variants={name: str(_absolute(path)) for name, path in cfg.variants.items()},
        teacher=_absolute(cfg.teacher),
    )
    where = cfg.address or "a local Ray instance"
    say(f"ablation: {len(todo)} runs as Ray tasks on {where}")

    def done(index: int, record: dict[str, Any]) -> None:
        seed, name = todo[index]
        ppl = record["points"][-1]["eval_ppl"]
        say(f"{name} seed {seed}: finished in its Ray task, eval perplexity {ppl:.2f}")

    results = run_jobs(
        [
            (
                run_one_task,
                (
                    task_cfg,
                    name,
                    seed,
                    (str(_absolute(inits[seed][0])), inits[seed][1]),
                    keys[seed, name],
                    ids,
                ),
            )
            for seed, name in todo
        ],
        address=cfg.address,
        gpus=cfg.device != "cpu",
        cpus_per_job=torch.get_num_threads(),  # a local run's threads: its numbers exactly
        on_done=done,
    )
    records.update(zip(todo, results, strict=True))
    return records


# -- the whole ablation ----------------------------------------------------------------------------


def run_ablation(cfg: AblationConfig) -> dict[str, Any]:
    """Train and score every (variant, seed), write ablation.json/.md/.html; return the JSON."""
    from trainer.ablation_report import write_ablation_report

    def say(message: str) -> None:
        if not cfg.quiet:
            print(message, flush=True)

    from transformers.utils import logging

    logging.disable_progress_bar()  # per-file save/load bars would drown the run's lines
    if cfg.executor not in ("local", "ray"):
        raise TrainerError(f"--executor {cfg.executor}: expected local or ray")
    if cfg.executor == "ray":
        from trainer.ray_runs import require_ray

        require_ray()  # before any work: the message says how to install it
    data = check_variants(cfg)
    for c in cfg.comparisons or []:
        for name in (c.without, c.with_):
            if name not in cfg.variants:
                raise TrainerError(f"comparison {c.label}: no variant named {name!r}")
    heldout = cfg.heldout or next(iter(cfg.variants.values()))
    if cfg.heldout is None:
        cfg.heldout = heldout
    tokenizer = Path(data["tokenizer"])
    ids = {
        "eval": eval_ids(tokenizer, Path(cfg.eval_text), cfg.eval_tokens),
        **{
            key: eval_ids(tokenizer, Path(path), cfg.eval_tokens)
            for key, path in extra_eval_names(cfg).items()
        },
        "heldout": heldout_ids(heldout, cfg.eval_tokens),
    }
    scored = b"|".join(name.encode() + b"=" + values.tobytes() for name, values in ids.items())
    eval_sha = hashlib.sha256(scored).hexdigest()
    first = data["variants"][next(iter(cfg.variants))]["manifest"]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    inits = build_inits(cfg, first["vocab_size"], first["eos_id"])
    order = [(seed, name) for seed in cfg.seeds for name in cfg.variants]  # seed-major
    keys = {(s, name): run_key(cfg, data, name, inits[s][1], eval_sha) for s, name in order}
    twins = twin_runs(order, keys)
    trained = [job for job in order if job not in twins]
    if cfg.executor == "ray":
        records = run_on_ray(cfg, trained, keys, inits, ids, say)
    else:  # seed-major, one after another: an early stop still leaves complete pairs
        records = {
            (seed, name): run_one(cfg, name, seed, inits[seed], keys[seed, name], ids, say)
            for seed, name in trained
        }
    for (seed, name), twin in twins.items():
        records[seed, name] = share_run(name, seed, twin, records[seed, twin], say)
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for seed, name in order:
        runs.setdefault(name, {})[seed] = records[seed, name]
    result = summarise(cfg, data, runs, inits)
    _write_json(out / "ablation.json", result)
    write_ablation_report(out, result)
    say(f"ablation: {out / 'ablation.json'}, {out / 'ablation.md'}, {out / 'ablation.html'}")
    return result
