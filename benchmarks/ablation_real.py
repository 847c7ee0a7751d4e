"""What cleaning is worth on a real corpus: `corpusclean ablate` raw vs clean, paired seeds.

    python benchmarks/ablation_real.py ../shared/data/webmix/part-*.jsonl.gz \\
        --eval ../shared/data/eval/wikitext2_raw_test.txt [--tokens 5000000 ...] [--seeds 2] \\
        [--rules rules/openwebtext.yaml] [--steps a,b,c] [--leave-one-out] [--seed-sets 2] \\
        [--aa] [--layers 2] [--out out/ablation_real]

Repeatability (issue 15): with ``--seed-sets N`` the same ablation runs N times with disjoint
seed sets (seeds 1..K, K+1..2K, ...; the cleaning and the runs are shared, each set's
ablation.json kept as ``ablation-seeds-A-B.json``), then once over all N*K seeds (every run
reused), and the table says for how many comparisons the sets' verdicts agree, under the
interval rule and under the seed rule. ``--aa`` adds an A/A check: the clean variant's
training documents split at random into halves (trainer/ablation_split.py), compared with
the same settings and seed sets; neither rule may call them helps or hurts. Several
``--tokens`` budgets repeat all of it per budget (the first in OUT, the others in
``OUT/tokens-N`` sharing OUT's cleaned variants) and say how many verdicts keep from one
budget to the next. ``--steps`` keeps only those steps of the rules (a reduced-scale run).
Everything is also written to ``OUT/repeatability.json``; cost per run is printed.

Trains a 3-layer, 256-wide GPT-2 student from scratch (the size of the issue's reference
measurements) on each variant for the same token budget, in bf16 where the CPU has it and
with torch.compile, scores it along the way on the evaluation text, and prints the variants'
perplexities, the paired differences and the verdict. Finished variants and runs are reused,
so an interrupted benchmark continues where it stopped.

At the end the HTML report is opened in headless Chromium (when installed) and a screenshot
is taken into the output folder (never the repository) to check that its plots render: the
screenshot must hold the plots' coloured pixels.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from trainer.ablation_report import coloured_pixels, find_browser  # noqa: E402
from trainer.ablation_stats import (  # noqa: E402
    called,
    compare,
    pooled_training_noise,
    t_quantile,
)

#: The student of the issue's reference figures: 3 layers, 256 wide, 4 heads.
STUDENT = {"n_layer": 3, "n_head": 4, "n_embd": 256, "n_positions": 256}


def reduced_rules(rules: Path, steps: str | None, out: Path) -> Path:
    """The rules file, or a copy keeping only ``steps`` (comma-separated names, rules' order)."""
    if not steps:
        return rules
    import yaml

    keep = [s.strip() for s in steps.split(",") if s.strip()]
    data = yaml.safe_load(rules.read_text(encoding="utf-8"))
    data["steps"] = [s for s in data["steps"] if next(iter(s)) in keep]
    missing = set(keep) - {next(iter(s)) for s in data["steps"]}
    if missing:
        raise SystemExit(f"--steps: not in {rules}: {', '.join(sorted(missing))}")
    data["name"] = f"{data.get('name', 'rules')}-reduced"
    target = out / "rules.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def run(command: list[str]) -> float:
    print("+ " + " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return time.perf_counter() - start


def training_options(args: argparse.Namespace, tokens: int, model: Path) -> list[str]:
    options = [
        "--eval", args.eval, "--tokens", str(tokens), "--curve-points", str(args.curve_points),
        "--eval-tokens", str(args.eval_tokens), "--eval-block-tokens",
        str(args.eval_block_tokens), "--model", str(model), "--batch-size", str(args.batch_size),
        "--block-size", str(args.block_size), "--lr", "1e-3",
    ]  # fmt: skip
    return options + ([] if args.no_compile else ["--compile"])


def seed_sets(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(first seed, count) per set, then (1, all) when there are several sets."""
    sets = [(1 + i * args.seeds, args.seeds) for i in range(args.seed_sets)]
    return sets + ([(1, args.seeds * args.seed_sets)] if args.seed_sets > 1 else [])


def set_name(first: int, count: int) -> str:
    return f"seeds-{first}-{first + count - 1}"


#: The rules whose repeatability is measured: the verdict's (training noise pooled over the
#: variants), the same interval with each comparison's own seeds only (K - 1 df, the rule
#: before pooling), the older seed rule, and a rule that ignores training noise (to show what
#: ignoring it costs).
RULES = {
    "verdict": "interval rule",
    "own_seeds": "own-seeds interval",
    "seed_rule_verdict": "seed rule",
    "eval_only": "eval-only rule",
}


def verdict_cell(c: dict) -> str:
    iv = c.get("interval") or {}
    if "interval_ppl_change" in iv:
        lo, hi = iv["interval_ppl_change"]
        return f"{c['verdict']} [{100 * lo:+.1f}%, {100 * hi:+.1f}%]"
    return c["verdict"]


def eval_only_verdict(c: dict) -> str:
    """What a rule blind to training noise would say: the evaluation-only interval (blocks)
    excludes 0 and the seeds agree. Shown to measure what the seeds' part of the interval
    is worth (the A/A check), not used for verdicts."""
    iv = c.get("interval") or {}
    if c["verdict"] == "redundant" or "eval_only_interval_ppl_change" not in iv:
        return c["verdict"]
    lo, hi = iv["eval_only_interval_ppl_change"]
    return called(c["per_seed_log_ppl_diff"], lo, hi) or "too close to call"


def own_seeds_verdict(c: dict) -> str:
    """The interval rule with the comparison's own seeds alone for training noise (K - 1 df),
    as it was before the ablation's variants pooled it: the pooling's worth, measured."""
    iv = c.get("interval") or {}
    if "pooled" not in iv:
        return c["verdict"]
    k = len(c["per_seed_log_ppl_diff"])
    half = t_quantile(0.5 + iv["level"] / 2, min(k - 1, iv["blocks"] - 1)) * math.hypot(
        iv["pooled"]["own_training_se"], iv["eval_se"]
    )
    mean = iv["mean_log_ppl_diff"]
    return called(c["per_seed_log_ppl_diff"], mean - half, mean + half) or "too close to call"


def rule(c: dict, key: str) -> str:
    if key == "eval_only":
        return eval_only_verdict(c)
    if key == "own_seeds":
        return own_seeds_verdict(c)
    return c[key]


def seeds_needed(result: dict, half_change: float, most: int = 1000) -> int | None:
    """Seeds per variant at which the pooled interval's half-width would fall to
    ``half_change`` (a perplexity change, e.g. 0.02), the noise staying as measured: one run's
    pooled training variance and the median evaluation standard error of the comparisons,
    with the pool's df for that many seeds. None without a pool, or beyond ``most``."""
    pool = result.get("pooled_training_noise")
    eval_se = [
        c["interval"]["eval_se"]
        for c in result["comparisons"]
        if "eval_se" in (c.get("interval") or {}) and c["verdict"] != "redundant"
    ]
    if not pool or not eval_se:
        return None
    target = math.log1p(half_change)
    e2 = statistics.median(eval_se) ** 2
    for k in range(2, most + 1):
        df = (pool["variants"] - 1) * (k - 1)
        if t_quantile(0.975, df) * math.sqrt(2 * pool["variance"] / k + e2) <= target:
            return k
    return None


def runs_of(result: dict) -> dict[str, dict[int, dict]]:
    """An ablation.json's run records as trainer.ablation_stats reads them."""
    return {
        name: {int(seed): record for seed, record in v["runs"].items()}
        for name, v in result["variants"].items()
    }


def judge_aa(aa: dict, main: dict) -> dict:
    """The A/A comparison judged as the ablation's own comparisons are: training noise pooled
    over the ablation's variants and the two halves (same seeds, same initialisations), so the
    check tests the rule the verdicts use. ``aa``'s own verdict (two variants, nothing to
    pool) is kept as ``unpooled_verdict``."""
    seeds = tuple(aa["seeds"])
    if tuple(main["seeds"]) != seeds or main["init_sha256"] != aa["init_sha256"]:
        raise SystemExit("A/A and ablation runs do not share seeds and initialisations")
    runs = {**runs_of(main), **runs_of(aa)}
    pool = pooled_training_noise(runs, seeds, list(runs))
    c = aa["comparisons"][0]
    judged = compare(c["label"], c["without"], c["with"], runs, seeds, pool=pool)
    return {**aa, "comparisons": [{**judged, "unpooled_verdict": c["verdict"]}]}


def agreement(sets: list[dict], key: str) -> tuple[int, int]:
    """(comparisons whose verdict under ``key`` is the same in every set, comparisons)."""
    labels = [c["label"] for c in sets[0]["comparisons"]]
    same = 0
    for i, _ in enumerate(labels):
        same += len({rule(s["comparisons"][i], key) for s in sets}) == 1
    return same, len(labels)


def cost(result: dict) -> tuple[float, float, int]:
    """Median training and evaluation seconds per run, and the runs counted.

    The median, because runs kept from an earlier invocation may have shared the machine with
    other work (a mean of 20 runs at 1M tokens read 120 s where the idle runs took 58-68 s);
    a variant's run that is another's (``same_as``) is that run, counted once.
    """
    runs = [
        r for v in result["variants"].values() for r in v["runs"].values() if not r.get("same_as")
    ]
    return (
        statistics.median(r["train_seconds"] for r in runs),
        statistics.median(r["eval_seconds"] for r in runs),
        len(runs),
    )


def print_repeatability(budget: int, results: dict[str, dict], aa: dict[str, dict]) -> dict:
    names = [n for n in results if n != "all"]
    print(f"\n== repeatability at {budget:,} tokens per run: seed sets {', '.join(names)} ==")
    first = results[names[0]]
    header = f"{'comparison':24} " + " ".join(
        f"{n:>34}" for n in [*names, *(["all"] if "all" in results else [])]
    )
    print(header + "".join(f" {w + ' per set':>40}" for w in list(RULES.values())[1:]))
    for i, c in enumerate(first["comparisons"]):
        cells = [verdict_cell(results[n]["comparisons"][i]) for n in names]
        if "all" in results:
            cells.append(verdict_cell(results["all"]["comparisons"][i]))
        others = [
            ", ".join(rule(results[n]["comparisons"][i], key) for n in names)
            for key in ("own_seeds", "seed_rule_verdict", "eval_only")
        ]
        print(f"{c['label']:24} " + " ".join(f"{x:>34}" for x in cells)
              + "".join(f" {x:>40}" for x in others))  # fmt: skip
    summary: dict = {"budget": budget, "sets": names}
    if len(names) > 1:
        sets = [results[n] for n in names]
        for key, words in RULES.items():
            same, total = agreement(sets, key)
            summary[f"agree_{key}"] = [same, total]
            print(f"verdicts that agree across seed sets ({words}): {same}/{total}")
    for name, result in aa.items():
        c = result["comparisons"][0]
        found = {w: rule(c, k) for k, w in RULES.items() if rule(c, k) in ("helps", "hurts")}
        flag = f"  <-- FALSE FINDING under {', '.join(found)}" if found else ""
        per_seed = ", ".join(f"{100 * x:+.2f}%" for x in c["per_seed_ppl_change"])
        print(f"A/A ({name}): {verdict_cell(c)}; own-seeds interval {own_seeds_verdict(c)}; "
              f"seed rule {c['seed_rule_verdict']}; eval-only rule {eval_only_verdict(c)}; "
              f"per seed {per_seed}{flag}")  # fmt: skip
        summary.setdefault("aa", {})[name] = {
            "verdict": c["verdict"], "own_seeds_verdict": own_seeds_verdict(c),
            "seed_rule_verdict": c["seed_rule_verdict"],
            "eval_only_verdict": eval_only_verdict(c),
            "eval_only_interval_ppl_change": (c.get("interval") or {}).get(
                "eval_only_interval_ppl_change"
            ),
            "per_seed_ppl_change": c["per_seed_ppl_change"],
            "interval_ppl_change": (c.get("interval") or {}).get("interval_ppl_change"),
            "mean_ppl_change": c["mean_ppl_change"],
        }  # fmt: skip
    train, evaluate, count = cost(results.get("all", first))
    print(f"cost per run at {budget:,} tokens: {train:.1f} s training + {evaluate:.1f} s "
          f"evaluation (median of {count} runs)")  # fmt: skip
    summary["seconds_per_run"] = {"train": train, "eval": evaluate, "runs": count}
    widest = results.get("all", first)
    pool = widest.get("pooled_training_noise")
    if pool:
        needed = {f"{h:.0%}": seeds_needed(widest, h) for h in (0.01, 0.02, 0.03)}
        print(f"one run's training noise (pooled over {pool['variants']} variants x "
              f"{len(widest['seeds'])} seeds, {pool['df']} df): "
              f"{100 * math.expm1(math.sqrt(pool['variance'])):.2f}%; seeds per variant for a "
              "95% half-width of " + ", ".join(f"{h}: {k}" for h, k in needed.items()))  # fmt: skip
        summary["pooled_training_noise"] = pool
        summary["seeds_needed"] = needed
    summary["verdicts"] = {
        n: {c["label"]: verdict_cell(c) for c in r["comparisons"]} for n, r in results.items()
    }
    summary["seed_rule_verdicts"] = {
        n: {c["label"]: c["seed_rule_verdict"] for c in r["comparisons"]}
        for n, r in results.items()
    }
    summary["unique"] = {c["label"]: c.get("unique") for c in first["comparisons"]}
    return summary


def print_result(result: dict, seconds: float, inputs: int) -> None:
    print(f"\nablation on {inputs} file(s), {result['tokens_per_run']:,} tokens per "
          f"run, seeds {result['seeds']}, {seconds / 60:.1f} min in all")  # fmt: skip
    print(f"{'variant':18} {'docs':>8} {'train tokens':>13} {'eval ppl per seed':>30} "
          f"{'mean':>8} {'held-out':>9}")  # fmt: skip
    for name, v in result["variants"].items():
        seeds = ", ".join(f"{x:.1f}" for x in v["eval_ppl"])
        held = [x for x in v["heldout_ppl"] if x is not None]
        print(f"{name:18} {v['docs']:>8,} {v['train_tokens']:>13,} {seeds:>30} "
              f"{v['eval_ppl_mean']:>8.1f} {sum(held) / len(held):>9.1f}")  # fmt: skip
    print()
    for c in result["comparisons"]:
        per_seed = ", ".join(f"{100 * x:+.1f}%" for x in c["per_seed_ppl_change"])
        print(f"{c['label']}: {c['verdict']} (per seed {per_seed}; seed rule "
              f"{c['seed_rule_verdict']}): {c['explanation']}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help="corpus files (JSONL/Parquet/...)")
    parser.add_argument("--eval", required=True, help="clean held-out text (e.g. WikiText-2)")
    parser.add_argument("--rules", default=str(ROOT / "rules" / "openwebtext.yaml"))
    parser.add_argument("--steps", help="keep only these steps of the rules (comma-separated)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per set")
    parser.add_argument("--seed-sets", type=int, default=1, help="disjoint seed sets")
    parser.add_argument("--leave-one-out", action="store_true", help="also -STEP variants")
    parser.add_argument("--aa", action="store_true", help="A/A check: clean split in halves")
    parser.add_argument("--layers", type=int, default=STUDENT["n_layer"], help="student layers")
    parser.add_argument("--width", type=int, default=STUDENT["n_embd"], help="student n_embd")
    parser.add_argument("--curve-points", type=int, default=5)
    parser.add_argument("--eval-tokens", type=int, default=100_000)
    parser.add_argument("--eval-block-tokens", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=0, help="cleaning workers")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless check")
    parser.add_argument("--out", default=str(ROOT / "out" / "ablation_real"))
    args = parser.parse_args()

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = out / "student.json"
    student = {**STUDENT, "n_layer": args.layers, "n_embd": args.width}
    model.write_text(json.dumps(student) + "\n", encoding="utf-8")
    rules = reduced_rules(Path(args.rules), args.steps, out)
    start = time.perf_counter()
    summaries = []
    for b, tokens in enumerate(args.tokens):
        here = out if b == 0 else out / f"tokens-{tokens}"
        if b > 0:  # the same cleaned variants for every budget
            here.mkdir(exist_ok=True)
            if not (here / "variants").exists():
                (here / "variants").symlink_to(out / "variants", target_is_directory=True)
        results: dict[str, dict] = {}
        aa: dict[str, dict] = {}
        for first, count in seed_sets(args):
            name = "all" if count > args.seeds else set_name(first, count)
            command = [
                sys.executable, "-m", "corpusclean", "ablate", str(rules), "--input",
                *args.inputs, "--out", str(here), "--seeds", str(count), "--first-seed",
                str(first), "--workers", str(args.workers),
                *training_options(args, tokens, model),
            ]  # fmt: skip
            if args.leave_one_out:
                command.append("--leave-one-out")
            run(command)
            result = json.loads((here / "ablation.json").read_text(encoding="utf-8"))
            shutil.copyfile(
                here / "ablation.json", here / f"ablation-{set_name(first, count)}.json"
            )
            results[name] = result
            if args.aa and name != "all":
                halves = out / "aa"
                if not (halves / "B" / "tokens" / "manifest.json").is_file():
                    from trainer.ablation_split import split_shards

                    split_shards(out / "variants" / "clean" / "tokens", halves / "A", halves / "B")
                run([
                    sys.executable, "-m", "trainer", "ablate",
                    "--variant", f"A={halves / 'A' / 'tokens'}",
                    "--variant", f"B={halves / 'B' / 'tokens'}",
                    "--out", str(here / "aa"), "--seeds", str(count), "--first-seed", str(first),
                    *training_options(args, tokens, model),
                ])  # fmt: skip
                aa[name] = judge_aa(
                    json.loads((here / "aa" / "ablation.json").read_text(encoding="utf-8")),
                    result,
                )
                shutil.copyfile(
                    here / "aa" / "ablation.json", here / "aa" / f"ablation-{name}.json"
                )
        final = results.get("all") or results[next(iter(results))]
        print_result(final, time.perf_counter() - start, len(args.inputs))
        summaries.append(print_repeatability(tokens, results, aa))
    if len(summaries) > 1:
        print("\n== verdicts from one budget to the next (all seeds) ==")
        for low, high in zip(summaries, summaries[1:], strict=False):
            key = "all" if "all" in low["verdicts"] else low["sets"][0]
            a, b = low["verdicts"][key], high["verdicts"][key]
            same = sum(a[k].split(" [")[0] == b[k].split(" [")[0] for k in a)
            print(f"{low['budget']:,} -> {high['budget']:,} tokens: {same}/{len(a)} verdicts keep")
            for k in a:
                print(f"  {k:24} {a[k]:>34} -> {b[k]}")
    (out / "repeatability.json").write_text(json.dumps(summaries, indent=2) + "\n", "utf-8")
    print(f"\n{(time.perf_counter() - start) / 60:.1f} min in all; {out / 'repeatability.json'}")

    browser = None if args.no_browser else find_browser()
    if browser is None:
        print("headless check skipped" + ("" if args.no_browser else ": no Chromium"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shown, bare = coloured_pixels(out / "ablation.html", Path(tmp), browser)
            shutil.copyfile(Path(tmp) / "report.png", out / "report-screenshot.png")
        ok = shown > 3 * bare + 2000
        print(f"headless Chromium: {shown:,} coloured pixels with the plots, {bare:,} without "
              f"({'plots visible' if ok else 'NO PLOTS VISIBLE'}); "
              f"screenshot {out / 'report-screenshot.png'}")  # fmt: skip
        if not ok:
            return 1
    print(f"report: {out / 'ablation.md'} and {out / 'ablation.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
