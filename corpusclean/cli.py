"""``corpusclean`` command line (docs/contract.md): run, validate, steps, sample, report, demo.

Exit codes: 0 success; 2 invalid usage or rules (one message naming file, step and key, and
nothing written); 1 failure during a run (the message says what and where).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from corpusclean import __version__
from trainer.cli import add_ablation_options

SAMPLE_DOCS = 3000
SAMPLE_SEED = 0
#: Training tokens per run of the demo's ablation (4 runs: raw and clean, 2 seeds).
DEMO_TOKENS = 300_000


class UsageError(Exception):
    """Bad command-line usage; exit code 2."""


def repo_rules_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "rules"


def sample_path(docs: int = SAMPLE_DOCS, seed: int = SAMPLE_SEED) -> Path:
    """The embedded sample, generated once into the user's cache folder (deterministic)."""
    from corpusclean.sample import SAMPLE_FORMAT, write_sample

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corpusclean"
    path = cache / f"sample-v{__version__}.{SAMPLE_FORMAT}-{docs}-{seed}.jsonl.gz"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.gz")
        write_sample(tmp, docs=docs, seed=seed)
        tmp.replace(path)
    return path


def _cmd_validate(args: argparse.Namespace) -> int:
    from corpusclean.rules import load_rules

    rules = load_rules(args.rules)
    _check_tokenizer(rules)
    print(yaml.safe_dump(rules.resolved(), sort_keys=False, allow_unicode=True), end="")
    return 0


def _check_tokenizer(rules: Any) -> None:
    """Fail before any work when the rules name a tokenizer that cannot be loaded."""
    from corpusclean.rules import RulesError
    from corpusclean.tokenizer import TokenizerError, eos_id, load_tokenizer

    spec = rules.tokenize
    if spec is None or not isinstance(spec.tokenizer, str):
        return
    try:
        tokenizer, _ = load_tokenizer(spec.tokenizer, Path(rules.path).parent)
        eos_id(tokenizer)
    except (TokenizerError, Exception) as exc:
        raise RulesError(f"{rules.path}: key 'tokenize.tokenizer': {exc}") from None


def _cmd_steps(args: argparse.Namespace) -> int:
    from corpusclean.steps import STEPS

    catalogue: dict[str, Any] = {}
    for name, step in STEPS.items():
        options = {}
        for key, info in step.Options.model_fields.items():
            default = info.get_default(call_default_factory=True)
            options[key] = {"default": default, "help": info.description or ""}
        catalogue[name] = {
            "summary": step.summary,
            "source": step.source,
            "adds_columns": list(step.adds_columns),
            "options": options,
        }
    if args.json:
        print(json.dumps(catalogue, indent=2, default=str))
        return 0
    for name, entry in catalogue.items():
        print(f"{name}: {entry['summary']}")
        print(f"  source: {entry['source']}")
        if entry["adds_columns"]:
            print(f"  adds columns: {', '.join(entry['adds_columns'])}")
        for key, option in entry["options"].items():
            print(f"  {key} (default {option['default']!r}): {option['help']}")
        print()
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from corpusclean.sample import write_eval_text, write_sample

    n = write_sample(args.output, docs=args.docs, seed=args.seed)
    print(f"wrote {n} documents to {args.output}")
    for kind, path in (("articles", args.eval), ("prose", args.eval_prose)):
        if path:
            words = write_eval_text(path, kind)
            print(f"wrote {words} words of held-out {kind} to {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from corpusclean.report import write_report

    directory = Path(args.dir)
    if not (directory / "stats.json").is_file():
        raise UsageError(f"{directory}: no stats.json here (is it a corpusclean run output?)")
    path = write_report(directory)
    print(f"report: {path} and {path.with_suffix('.html')}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from corpusclean.inspect import inspect_id, inspect_reason
    from corpusclean.run_output import RunFolderError, read_stats

    try:
        read_stats(args.dir)
        if args.id is not None:
            return inspect_id(args.dir, args.id)
        return inspect_reason(args.dir, args.reason, n=args.n, seed=args.seed, grep=args.grep)
    except RunFolderError as exc:
        raise UsageError(str(exc)) from exc


def input_paths(rules_path: str, rules: Any, inputs: list[str] | None) -> tuple[list[Path], bool]:
    """The files to read: --input, else the rules' input.paths (relative to the rules file),
    else the embedded sample. The flag says whether it is the sample."""
    from corpusclean.io import expand_inputs

    patterns = inputs or rules.input.paths
    if not patterns:
        return [sample_path()], True
    base = Path(rules_path).parent
    resolved = [p if inputs or Path(p).is_absolute() else str(base / p) for p in patterns]
    return expand_inputs(resolved), False


def run_rules(
    rules_path: str,
    inputs: list[str] | None,
    output: str | None,
    workers: int = 0,
    limit: int | None = None,
    quiet: bool = False,
    labels: str | None = None,
    executor: str = "local",
    address: str | None = None,
    label_column: str = "truth",
    keep_classes: list[str] | None = None,
) -> tuple[Any, Path]:
    """Validate everything, then run; shared by ``run`` and ``demo``. Returns (stats, output)."""
    from corpusclean import engine
    from corpusclean.rules import load_rules

    rules = load_rules(rules_path)
    _check_tokenizer(rules)
    if limit is not None and limit < 1:
        raise UsageError("--limit must be >= 1")
    out = Path(output or rules.output or f"out/{rules.name}")
    engine.check_output(out)  # before any work: refuse a foreign, non-empty folder
    paths, is_sample = input_paths(rules_path, rules, inputs)
    if is_sample:
        # The embedded sample labels every record with its planted defect: score against it.
        labels = labels or str(paths[0])
    if labels is not None and not Path(labels).is_file():
        raise UsageError(f"{labels}: labels file not found")
    config = engine.RunConfig(
        rules=rules,
        inputs=paths,
        output=out,
        workers=workers,
        executor=executor,
        address=address,
        limit=limit,
        quiet=quiet,
        labels=Path(labels) if labels else None,
        label_column=label_column,
        keep_classes=tuple(keep_classes or ("clean", "mojibake")),
    )
    return engine.run(config), out


def _summary(stats: Any, output: Path) -> str:
    kept, total = stats.kept_docs, stats.input_docs
    lines = [
        f"{total:,} documents in, {kept:,} kept, {sum(stats.rejected.values()):,} rejected, "
        f"{stats.error_records:,} unreadable ({stats.seconds:.1f} s)",
    ]
    if stats.error_records:
        lines.append(f"warning: {stats.error_records} unreadable record(s), see {output}/errors/")
    truth = stats.extra.get("truth")
    if truth and truth["drop_precision"] is not None:
        lines.append(
            f"against the truth labels: drop precision {truth['drop_precision']:.3f}, "
            f"drop recall {truth['drop_recall']:.3f}"
        )
    lines.append(f"report: {output}/report.md")
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    check_executor_options(args)
    stats, out = run_rules(
        args.rules,
        args.input,
        args.output,
        args.workers,
        args.limit,
        args.quiet,
        labels=args.labels,
        label_column=args.label_column,
        keep_classes=args.keep_class,
        executor=args.executor,
        address=args.address,
    )
    print(_summary(stats, out))
    return 0


def ablate_rules(args: argparse.Namespace, rules_path: str, inputs: list[str] | None) -> Path:
    """Build the variants of ``rules_path`` and run the ablation; return ablation.md's path."""
    from corpusclean.ablate import (
        DEFAULT_TOKENIZE,
        build_variants,
        measure_contamination,
        unique_contribution,
    )
    from corpusclean.rules import load_rules
    from trainer.ablation import Comparison, run_ablation
    from trainer.cli import ablation_config

    rules = load_rules(rules_path)
    _check_tokenizer(rules)
    for path in args.eval:
        if not Path(path).is_file():
            raise UsageError(f"{path}: evaluation text file not found")
    out = Path(args.out)
    paths, _ = input_paths(rules_path, rules, inputs)
    shards, stats = build_variants(
        rules,
        paths,
        out,
        leave_one_out=args.leave_one_out,
        add_one_in=getattr(args, "add_one_in", False),  # the demo sets none
        workers=args.workers,
        quiet=args.quiet,
        executor=getattr(args, "executor", "local"),
        address=getattr(args, "address", None),
        decontaminate=[Path(p) for p in args.eval] if getattr(args, "decontaminate", False) else (),
    )
    val_fraction = (rules.tokenize or DEFAULT_TOKENIZE).val_fraction
    contamination = {
        name: measure_contamination(path.parent / "documents", args.eval, val_fraction)
        for name, path in shards.items()
    }

    def unique(name: str) -> dict[str, Any]:  # what only `name`'s missing step(s) remove
        return unique_contribution(shards[name].parent, shards["clean"].parent)

    comparisons = [
        Comparison(
            "cleaning (every step)",
            without="raw",
            with_="clean",
            unique=unique("raw"),
            same_data_note="the rules remove nothing from this input",
        )
    ]
    comparisons += [
        Comparison(
            name[1:],
            without=name,
            with_="clean",
            unique=unique(name),
            same_data_note="in these rules, what it removes the other steps remove too",
        )
        for name in shards
        if name.startswith("-")
    ]
    comparisons += [
        Comparison(
            f"{name[1:]} alone",
            without="raw",
            with_=name,
            unique=unique_contribution(shards["raw"].parent, shards[name].parent),
            same_data_note="on this input it removes nothing",
        )
        for name in shards
        if name.startswith("+")
    ]
    cfg = ablation_config(
        args,
        {name: str(path) for name, path in shards.items()},
        comparisons=comparisons,
        heldout=str(shards["clean"]),
        docs={name: s["kept_docs"] for name, s in stats.items()},
        extra={
            "title": f"Ablation of {Path(rules_path).name}: what the cleaning is worth",
            "rules": str(rules_path),
            "inputs": [str(p) for p in paths],
            "cleaning": {
                name: {
                    "input_docs": s["input_docs"],
                    "kept_docs": s["kept_docs"],
                    "rejected": s["rejected"],
                    "seconds": s["seconds"],
                }
                for name, s in stats.items()
            },
        },
    )
    cfg.contamination = contamination
    run_ablation(cfg)
    return out / "ablation.md"


def _cmd_ablate(args: argparse.Namespace) -> int:
    check_executor_options(args)
    start = time.perf_counter()
    report = ablate_rules(args, args.rules, args.input)
    print(f"ablation finished in {time.perf_counter() - start:.0f} s")
    print(f"report: {report} (and {report.with_suffix('.html')}, ablation.json)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Sample -> clean -> tokenize -> ablation (raw vs clean, paired seeds), at CI size."""
    from corpusclean.sample import write_eval_text

    start = time.perf_counter()
    out = Path(args.out)
    rules = repo_rules_dir() / "openwebtext.yaml"
    if not rules.is_file():
        raise UsageError(f"{rules}: rules file not found (run the demo from a source checkout)")
    out.mkdir(parents=True, exist_ok=True)
    args.eval = [str(out / "eval_articles.txt"), str(out / "eval_prose.txt")]
    for kind, path in zip(("articles", "prose"), args.eval, strict=True):
        words = write_eval_text(path, kind)
        print(f"held-out evaluation text: {path} ({words:,} words of {kind} no record contains)")
    report = ablate_rules(args, str(rules), None)
    clean = out / "variants" / "clean"
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    print(f"cleaning report: {clean / 'report.md'} (and report.html)")
    print(f"ablation report: {report} (and {report.with_suffix('.html')}, ablation.json)")
    return 0


#: ``--input`` in every command: one or more paths after one flag, and the flag may be repeated
#: (``--input a.jsonl b.jsonl --input c.jsonl`` reads all three, in that order, as a shell glob
#: expands them); each path is a file, a folder or a quoted glob.
INPUT_OPTION: dict[str, Any] = {
    "action": "extend",
    "nargs": "+",
    "metavar": "PATH",
    "help": "input files, folders or globs: several after one flag, and the flag repeatable "
    "(default: the rules' input.paths, else the embedded sample)",
}


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and ``--address`` (docs/scaling.md)."""
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: worker processes on this machine | ray: Ray tasks (pip install "
        "'corpusclean[ray]'); same output bytes either way",
    )
    parser.add_argument(
        "--address",
        help="with --executor ray: the cluster to join (auto, or HOST:PORT); default: start "
        "a local Ray instance with --workers CPUs",
    )


def check_executor_options(args: argparse.Namespace) -> None:
    if args.address is not None and args.executor != "ray":
        raise UsageError("--address needs --executor ray")
    if args.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise UsageError("--executor ray needs Ray: pip install 'corpusclean[ray]'")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpusclean", description="Clean LLM pre-training corpora with YAML rules."
    )
    parser.add_argument("--version", action="version", version=f"corpusclean {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="clean a corpus with a rules file")
    run.add_argument("rules")
    run.add_argument("--input", **INPUT_OPTION)
    run.add_argument("--output", help="output folder (default: the rules' output)")
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        help="tasks at once: worker processes, or Ray CPUs (0 = all cores / the cluster's)",
    )
    add_executor_options(run)
    run.add_argument("--limit", type=int, help="stop after N input documents")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--labels", help="Parquet/JSONL with id + a truth class per document, to score decisions"
    )
    run.add_argument("--label-column", default="truth", help="class column of --labels")
    run.add_argument(
        "--keep-class",
        action="append",
        help="a class that should be kept (repeatable; default: clean, mojibake)",
    )
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check a rules file and print the resolved steps")
    validate.add_argument("rules")
    validate.set_defaults(func=_cmd_validate)

    steps = sub.add_parser("steps", help="list every step with its options and sources")
    steps.add_argument("--json", action="store_true")
    steps.set_defaults(func=_cmd_steps)

    sample = sub.add_parser("sample", help="write the embedded sample corpus")
    sample.add_argument("--docs", type=int, default=SAMPLE_DOCS)
    sample.add_argument("--output", required=True)
    sample.add_argument("--seed", type=int, default=SAMPLE_SEED)
    sample.add_argument(
        "--eval",
        metavar="FILE",
        help="also write held-out clean articles (no record contains them) as evaluation text",
    )
    sample.add_argument(
        "--eval-prose",
        metavar="FILE",
        help="also write held-out prose: sentences of the articles' kind that no record contains",
    )
    sample.set_defaults(func=_cmd_sample)

    report = sub.add_parser("report", help="rebuild report.md/report.html from stats.json")
    report.add_argument("dir")
    report.set_defaults(func=_cmd_report)

    inspect = sub.add_parser("inspect", help="print dropped documents, or where one document went")
    inspect.add_argument("dir", help="a run's output folder")
    which = inspect.add_mutually_exclusive_group(required=True)
    which.add_argument("--reason", metavar="STEP", help="documents this step dropped")
    which.add_argument("--id", metavar="ID", help="where this document went and why")
    inspect.add_argument("--n", type=int, default=10, help="documents to print (--reason)")
    inspect.add_argument("--grep", metavar="WORD", help="only texts containing WORD (any case)")
    inspect.add_argument("--seed", type=int, default=0, help="seed of the random choice")
    inspect.set_defaults(func=_cmd_inspect)

    ablate = sub.add_parser(
        "ablate",
        help="measure what cleaning is worth: raw vs clean (vs leave-one-out) models",
        description="Build the variants raw (no step), clean (every step) and, with "
        "--leave-one-out, -STEP for each step; tokenize all with one tokenizer; train one "
        "student per variant and paired seed from the same initialisation and token budget; "
        "write ablation.json, ablation.md and ablation.html to --out with verdicts per step.",
    )
    ablate.add_argument("rules")
    ablate.add_argument("--input", **INPUT_OPTION)
    ablate.add_argument("--leave-one-out", action="store_true", help="also -STEP variants")
    ablate.add_argument(
        "--add-one-in", action="store_true", help="also +STEP variants (raw with STEP alone)"
    )
    ablate.add_argument(
        "--decontaminate",
        action="store_true",
        help="end every variant, raw included, with a decontaminate step against every --eval",
    )
    ablate.add_argument("--workers", type=int, default=0, help="cleaning workers (0: all cores)")
    add_ablation_options(ablate)
    ablate.set_defaults(func=_cmd_ablate)

    demo = sub.add_parser(
        "demo", help="sample -> clean -> tokenize -> ablation (raw vs clean), CI-sized"
    )
    demo.add_argument("--out", default="out/demo")
    demo.add_argument("--workers", type=int, default=0)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(
        func=_cmd_demo,
        leave_one_out=False,
        tokens=DEMO_TOKENS,
        seeds=2,
        curve_points=4,
        eval_tokens=None,
        init="scratch",
        model="tiny",
        keep_layers=None,
        teacher=None,
        kd=None,
        batch_size=16,
        block_size=64,
        lr=1e-3,  # seed spread on the sample: 21.8% at 2e-3, 3.6% at 1e-3 (README)
        device="auto",
        dtype="auto",
        compile=False,
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from corpusclean.engine import OutputDirError
    from corpusclean.io import InputError
    from corpusclean.rules import RulesError
    from trainer.errors import TrainerError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (RulesError, InputError, OutputDirError, UsageError, TrainerError) as exc:
        print(f"corpusclean: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("corpusclean: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failure during a run: say what and where, exit 1
        if os.environ.get("CORPUSCLEAN_DEBUG"):
            raise
        print(f"corpusclean: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
