"""What cleaning is worth on a real corpus: `corpusclean ablate` raw vs clean, paired seeds.

    python benchmarks/ablation_real.py ../shared/data/webmix/part-*.jsonl.gz \\
        --eval ../shared/data/eval/wikitext2_raw_test.txt [--tokens 5000000] [--seeds 2] \\
        [--rules rules/openwebtext.yaml] [--out out/ablation_real]

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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from trainer.ablation_report import coloured_pixels, find_browser  # noqa: E402

#: The student of the issue's reference figures: 3 layers, 256 wide, 4 heads.
STUDENT = {"n_layer": 3, "n_head": 4, "n_embd": 256, "n_positions": 256}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help="corpus files (JSONL/Parquet/...)")
    parser.add_argument("--eval", required=True, help="clean held-out text (e.g. WikiText-2)")
    parser.add_argument("--rules", default=str(ROOT / "rules" / "openwebtext.yaml"))
    parser.add_argument("--tokens", type=int, default=5_000_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--curve-points", type=int, default=5)
    parser.add_argument("--eval-tokens", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--out", default=str(ROOT / "out" / "ablation_real"))
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = out / "student.json"
    model.write_text(json.dumps(STUDENT) + "\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "corpusclean", "ablate", args.rules, "--input", *args.inputs,
        "--eval", args.eval, "--out", str(out), "--tokens", str(args.tokens),
        "--seeds", str(args.seeds), "--curve-points", str(args.curve_points),
        "--eval-tokens", str(args.eval_tokens), "--model", str(model),
        "--batch-size", str(args.batch_size), "--block-size", str(args.block_size),
        "--lr", "1e-3",
    ]  # fmt: skip
    if not args.no_compile:
        command.append("--compile")
    print("+ " + " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start

    result = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    print(f"\nablation on {len(args.inputs)} file(s), {result['tokens_per_run']:,} tokens per "
          f"run, seeds {result['seeds']}, {seconds / 60:.1f} min in all")  # fmt: skip
    print(f"{'variant':10} {'docs':>8} {'train tokens':>13} {'eval ppl per seed':>24} "
          f"{'mean':>8} {'held-out':>9}")  # fmt: skip
    for name, v in result["variants"].items():
        seeds = ", ".join(f"{x:.1f}" for x in v["eval_ppl"])
        held = [x for x in v["heldout_ppl"] if x is not None]
        print(f"{name:10} {v['docs']:>8,} {v['train_tokens']:>13,} {seeds:>24} "
              f"{v['eval_ppl_mean']:>8.1f} {sum(held) / len(held):>9.1f}")  # fmt: skip
    print("\nlearning curves (mean eval ppl over seeds):")
    names = list(result["variants"])
    first = next(iter(result["variants"][names[0]]["runs"].values()))["points"]
    print(f"{'tokens':>12} " + " ".join(f"{n:>10}" for n in names))
    for i, point in enumerate(first):
        row = []
        for n in names:
            runs = result["variants"][n]["runs"].values()
            row.append(sum(r["points"][i]["eval_ppl"] for r in runs) / len(result["seeds"]))
        print(f"{point['tokens']:>12,} " + " ".join(f"{x:>10.1f}" for x in row))
    print()
    for c in result["comparisons"]:
        per_seed = ", ".join(f"{100 * x:+.1f}%" for x in c["per_seed_ppl_change"])
        print(f"{c['label']}: {c['verdict']} (per seed {per_seed}): {c['explanation']}")

    browser = find_browser()
    if browser is None:
        print("headless check skipped: no Chromium (apt install chromium)")
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
