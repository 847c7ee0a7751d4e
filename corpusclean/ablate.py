"""``corpusclean ablate``: build the data variants of a rules file, then train and compare them.

The variants (docs/contract.md): ``raw`` is the input with no step applied, ``clean`` applies every
step, and with ``--leave-one-out`` ``-STEP`` applies every step but one. Each is a normal
``corpusclean run`` into ``OUT/variants/NAME/`` (documents, rejected, stats, report, tokens), so
every variant can be inspected like any other run.

One tokenizer for all: the ``clean`` variant runs first and its tokenizer (the rules' own, or
the one trained on the clean documents when the rules say ``train``) tokenizes every other
variant. Training and comparison are :mod:`trainer.ablation`'s, which knows nothing of cleaning:
this module only turns "does step S help?" into the comparison ``-S`` versus ``clean``.

Contamination is measured here, not in the trainer (which knows shards, not documents): for
every variant and evaluation text, the fraction of the text's distinct word n-grams (13-grams,
``decontaminate``'s definition and index) that occur in the variant's training documents
(``documents/`` less the validation side), and how many documents hold any
(:func:`measure_contamination`); the trainer puts the figures in ``ablation.json`` and the
report. With ``--decontaminate`` every variant, ``raw`` included, ends with a
``decontaminate`` step against every evaluation text (:func:`variant_steps`), so none trains
on them.

Work already done is reused: a variant whose run finished with the same rules, inputs and
tokenizer (hashed into ``ablation-key.txt`` beside its stats.json) is not run again, and the
trainer side reuses finished training runs the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from corpusclean import __version__, engine
from corpusclean.io.shards import is_val
from corpusclean.rules import Rules, StepSpec
from corpusclean.steps.decontaminate import (
    DecontaminateOptions,
    EvalIndex,
    build_index,
    text_ngrams,
)
from corpusclean.tokenizer import TokenizeSpec, TrainSpec, TrainTokenizer

KEY_FILE = "ablation-key.txt"
#: The tokenizer an ablation trains when the rules do not say (vocabulary of the demo's scale).
DEFAULT_TOKENIZE = TokenizeSpec(
    tokenizer=TrainSpec(train=TrainTokenizer(vocab_size=8192)), val_fraction=0.05
)


def variant_steps(
    steps: Sequence[StepSpec],
    leave_one_out: bool,
    decontaminate: Sequence[Path] = (),
    add_one_in: bool = False,
) -> dict[str, list[StepSpec]]:
    """``{"raw": [], "clean": all, "-STEP": all but STEP, ..., "+STEP": STEP alone, ...}``.

    A step used twice gets its position in the name (``-c4_quality#2``) so names stay unique.
    ``add_one_in`` adds the other view of a step's worth: the raw input with that step alone.
    With ``decontaminate`` (evaluation texts) every variant ends with a ``decontaminate``
    step against all of them (default options: 13-grams, drop), the rules' own steps left out
    or not.
    """
    variants: dict[str, list[StepSpec]] = {"raw": [], "clean": list(steps)}
    if leave_one_out:
        names = [s.name for s in steps]
        for i, step in enumerate(steps):
            label = step.name if names.count(step.name) == 1 else f"{step.name}#{i + 1}"
            variants[f"-{label}"] = [s for j, s in enumerate(steps) if j != i]
    if add_one_in:
        names = [s.name for s in steps]
        for i, step in enumerate(steps):
            label = step.name if names.count(step.name) == 1 else f"{step.name}#{i + 1}"
            variants[f"+{label}"] = [step]
    if decontaminate:
        last = StepSpec(
            name="decontaminate",
            options=DecontaminateOptions(against=[str(Path(p).resolve()) for p in decontaminate]),
        )
        variants = {name: [*plan, last] for name, plan in variants.items()}
    return variants


def variant_folder(name: str) -> str:
    """``-STEP`` -> ``minus-STEP``, ``+STEP`` -> ``plus-STEP``, others as they are."""
    return {"-": "minus-", "+": "plus-"}.get(name[0], name[0]) + name[1:]


def measure_contamination(
    documents: Path,
    evals: Sequence[str],
    val_fraction: float,
    ngram: int = DecontaminateOptions().ngram,
) -> dict[str, dict[str, Any]]:
    """How much of each evaluation text a run's training documents hold.

    ``{EVAL: {"ngram_overlap": distinct n-grams of EVAL found / EVAL's distinct n-grams,
    "docs": training documents holding any, "ngrams": found, "eval_ngrams": EVAL's, "ngram"}}``.
    Training documents are the ``documents/`` parts less those whose id hash puts them on the
    validation side (``io.shards.is_val``, as the tokenize stage splits them). Reads one part
    at a time; holds the evaluation indexes (memory-mapped) and the n-grams found so far.
    """
    indexes = {text: EvalIndex(build_index([Path(text)], ngram)) for text in evals}
    found = {text: np.empty(0, dtype=np.uint64) for text in evals}
    docs = dict.fromkeys(evals, 0)
    for part in sorted(documents.glob("*.parquet")):
        frame = pl.read_parquet(part, columns=["id", "text"])
        train = frame.filter(pl.Series(~is_val(frame.get_column("id").to_list(), val_fraction)))
        grams = text_ngrams(train.get_column("text"), ngram)
        owner = grams.docs
        for text, index in indexes.items():
            hit, _ = index.lookup(grams.hashes)
            found[text] = np.union1d(found[text], grams.hashes[hit])
            docs[text] += len(np.unique(owner[hit]))
    return {
        text: {
            "ngram_overlap": len(found[text]) / len(index) if len(index) else 0.0,
            "docs": docs[text],
            "ngrams": len(found[text]),
            "eval_ngrams": len(index),
            "ngram": ngram,
        }
        for text, index in indexes.items()
    }


def _file_identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def variant_key(rules: Rules, inputs: Sequence[Path], tokenizer_sha: str | None) -> str:
    """What must be equal for a finished variant run to be reused."""
    blob = json.dumps(
        [__version__, rules.resolved(), [_file_identity(p) for p in inputs], tokenizer_sha],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_variant(
    name: str,
    rules: Rules,
    inputs: Sequence[Path],
    out: Path,
    workers: int,
    quiet: bool,
    tokenizer_sha: str | None,
    executor: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Run (or reuse) one variant into ``out``; return its stats.json as a dict."""
    key = variant_key(rules, inputs, tokenizer_sha)
    key_file = out / KEY_FILE
    stats_file = out / "stats.json"
    if key_file.is_file() and key_file.read_text().strip() == key and stats_file.is_file():
        if not quiet:
            print(f"variant {name}: reusing the finished run in {out}", flush=True)
        return json.loads(stats_file.read_text(encoding="utf-8"))
    if not quiet:
        print(f"variant {name}: {len(rules.steps)} step(s) -> {out}", flush=True)
    key_file.unlink(missing_ok=True)
    config = engine.RunConfig(
        rules=rules,
        inputs=list(inputs),
        output=out,
        workers=workers,
        quiet=quiet,
        executor=executor,
        address=address,
    )
    engine.run(config)
    key_file.write_text(key + "\n", encoding="utf-8")
    return json.loads(stats_file.read_text(encoding="utf-8"))


def build_variants(
    rules: Rules,
    inputs: Sequence[Path],
    out: Path,
    leave_one_out: bool = False,
    workers: int = 0,
    quiet: bool = False,
    executor: str = "local",
    address: str | None = None,
    decontaminate: Sequence[Path] = (),
    add_one_in: bool = False,
) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Run every variant; return ``{name: shard dir}`` and ``{name: stats}``.

    ``decontaminate``: evaluation texts every variant is decontaminated against
    (:func:`variant_steps`).

    ``executor``/``address`` run the variants' cleaning where the training runs go
    (:mod:`corpusclean.executors`); the variants' bytes do not depend on it.

    ``clean`` runs first with the rules' tokenizer settings (or :data:`DEFAULT_TOKENIZE`); its
    ``tokenizer.json`` then tokenizes the others, with the same validation fraction.
    """
    tokenize = rules.tokenize or DEFAULT_TOKENIZE
    plans = variant_steps(rules.steps, leave_one_out, decontaminate, add_one_in)
    order = ["clean", *[n for n in plans if n != "clean"]]
    shards: dict[str, Path] = {}
    stats: dict[str, dict[str, Any]] = {}
    tokenizer_sha: str | None = None
    shared: TokenizeSpec = tokenize
    for name in order:
        variant_rules = dataclasses.replace(
            rules, name=f"{rules.name} {name}", steps=plans[name], tokenize=shared
        )
        directory = out / "variants" / variant_folder(name)
        stats[name] = build_variant(
            name,
            variant_rules,
            inputs,
            directory,
            workers,
            quiet,
            tokenizer_sha,
            executor=executor,
            address=address,
        )
        shards[name] = directory / "tokens"
        if name == "clean":
            tokenizer = directory / "tokenizer.json"
            tokenizer_sha = _sha256(tokenizer)
            shared = TokenizeSpec(
                tokenizer=str(tokenizer.resolve()), val_fraction=tokenize.val_fraction
            )
    return {n: shards[n] for n in plans}, {n: stats[n] for n in plans}


def _id_hashes(documents: Path) -> np.ndarray:
    """The distinct 64-bit hashes of a run's kept document ids (one part at a time)."""
    hashes = [
        pl.read_parquet(part, columns=["id"]).get_column("id").hash(seed=0).to_numpy()
        for part in sorted(documents.glob("*.parquet"))
    ]
    return np.unique(np.concatenate(hashes)) if hashes else np.empty(0, dtype=np.uint64)


def unique_contribution(without: Path, with_: Path) -> dict[str, Any]:
    """What only one step removes: the run folders of ``-STEP`` (``without``) and ``clean``.

    Net figures, ``without``'s less ``with_``'s: ``docs`` (stats.json ``kept_docs``),
    ``bytes`` (``kept_text_bytes``: a step that rewrites text, like ``html_tags``, removes
    bytes without documents) and ``tokens`` (the manifests' train + val tokens), each also as
    a share of ``clean``'s. They are what training sees, but a net count can hide a swap:
    leaving a step out can change which copy a deduplication keeps, or a rewrite can change a
    later filter's decision, so documents are also counted **by id**:
    ``docs_only_without`` (kept without the step, not with it: what it alone removes) and
    ``docs_only_with`` (kept only with it), and ``share_of_docs_by_id`` their sum over
    ``clean``'s documents. The trainer calls a comparison "redundant" when every ``share_*``
    figure is under 0.1% (trainer/ablation_stats.py, ``same_data``), so a swap is no
    redundancy. Ids are compared as 64-bit hashes of the distinct ids (8 bytes a document).
    """
    stats = [json.loads((d / "stats.json").read_text(encoding="utf-8")) for d in (without, with_)]
    manifests = [
        json.loads((d / "tokens" / "manifest.json").read_text(encoding="utf-8"))
        for d in (without, with_)
    ]
    tokens = [m["train_tokens"] + m["val_tokens"] for m in manifests]
    ids_without, ids_with = (_id_hashes(d / "documents") for d in (without, with_))
    only_without = int(np.setdiff1d(ids_without, ids_with, assume_unique=True).size)
    only_with = int(np.setdiff1d(ids_with, ids_without, assume_unique=True).size)
    docs = stats[0]["kept_docs"] - stats[1]["kept_docs"]
    text_bytes = stats[0]["kept_text_bytes"] - stats[1]["kept_text_bytes"]
    clean_docs = max(1, stats[1]["kept_docs"])
    return {
        "docs": docs,
        "bytes": text_bytes,
        "tokens": tokens[0] - tokens[1],
        "share_of_docs": docs / clean_docs,
        "share_of_bytes": text_bytes / max(1, stats[1]["kept_text_bytes"]),
        "share_of_tokens": (tokens[0] - tokens[1]) / max(1, tokens[1]),
        "docs_only_without": only_without,
        "docs_only_with": only_with,
        "share_of_docs_by_id": (only_without + only_with) / clean_docs,
    }
