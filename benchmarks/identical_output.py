"""Byte-identical output against a reference commit: a refactoring must not change a byte.

    python benchmarks/identical_output.py                       # against 3282b1f (issue 11)
    python benchmarks/identical_output.py --reference COMMIT --webmix ../shared/data/webmix

Issue 11 ("redesign for the next person") moved most of the package around; its criterion is
that behaviour is unchanged. This script checks it the way a user would see a change: it
extracts the reference commit's source with ``git archive`` into a cache folder, and runs the
same commands with the reference tree and with this checkout, each as ``python -m corpusclean``
in its own source tree (``PYTHONPATH`` set to it, so neither sees the other's modules) and with
its own ``XDG_CACHE_HOME`` (so each side generates the embedded sample with its own code):

1. ``corpusclean run rules/openwebtext.yaml`` on the embedded sample;
2. the same on ../shared/data's webmix (skipped with a note when absent);
3. ``corpusclean ablate rules/openwebtext.yaml`` at a tiny budget on the embedded sample as
   the reference's ``corpusclean sample --docs 3000 --seed 0`` writes it (one file for both
   sides, passed with ``--input``): the demo's variants (``raw`` and ``clean``, tokenized
   with one tokenizer) and, with ``--leave-one-out``, every ``-STEP`` variant.

For each it compares the sha256 of every file under ``documents/``, ``rejected/``,
``errors/``, ``tokens/`` and of ``tokenizer.json`` (and the embedded sample file itself), and
prints one line per output folder: identical, or the files that differ. Exit status 1 when
anything differs. The reference side's outputs are kept in the cache folder and reused when
they already exist (``--fresh`` reruns them).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEBMIX = ROOT.parent / "shared" / "data" / "webmix"
#: The commit before issue 11's redesign.
REFERENCE = "3282b1f"
#: The folders and files whose bytes must not change.
COMPARED = ("documents", "rejected", "errors", "tokens", "tokenizer.json")


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "corpusclean-bench" / "identical-output"


def reference_tree(commit: str, root: Path) -> Path:
    """The reference commit's source, extracted once with ``git archive``."""
    full = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = root / f"src-{full[:12]}"
    if not (tree / "corpusclean").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", full],
            check=True,
            capture_output=True,
        ).stdout
        tar = tree / "src.tar"
        tar.write_bytes(archive)
        with tarfile.open(tar) as handle:
            handle.extractall(tree, filter="data")
        tar.unlink()
    return tree


def corpusclean(tree: Path, cache: Path, args: list[str], log: Path) -> None:
    """Run ``python -m corpusclean ARGS`` with ``tree``'s source, failing loudly."""
    env = {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": str(cache)}
    command = [sys.executable, "-m", "corpusclean", *args]
    with log.open("w") as sink:
        done = subprocess.run(command, cwd=tree, env=env, stdout=sink, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{' '.join(command)} (in {tree}) exited {done.returncode}:\n{tail}")


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every compared file under ``folder``, keyed by its folder and its place in
    name order (and a later pass's ``-pK``), not by its name: issue 12 renamed the parts
    (``part-000042`` -> ``part-0000003-0000042``, file and batch), in the same order."""
    result: dict[str, str] = {}
    for name in COMPARED:
        path = folder / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for index, file in enumerate(f for f in files if f.is_file()):
            later = re.search(r"-p\d+\.parquet$", file.name)
            key = name if file == path else f"{name}/#{index:06d}{later.group(0) if later else ''}"
            if file.name in ("manifest.json", "train.bin", "val.bin"):
                key = str(file.relative_to(folder))
            result[key] = hashlib.sha256(file.read_bytes()).hexdigest()
    return result


def compare(label: str, reference: Path, current: Path) -> bool:
    ref, cur = digests(reference), digests(current)
    if not ref:
        print(f"{label}: the reference wrote none of {', '.join(COMPARED)}")
        return False
    differ = sorted(k for k in ref.keys() | cur.keys() if ref.get(k) != cur.get(k))
    if differ:
        print(f"{label}: {len(differ)} of {len(ref)} files DIFFER: {', '.join(differ[:10])}")
        return False
    print(f"{label}: identical ({len(ref)} files)")
    return True


def compare_samples(reference: Path, current: Path) -> bool:
    """The embedded sample each side generated (with its own ``corpusclean.sample``)."""
    ref = {p.name: p for p in reference.glob("sample-*.jsonl.gz")}
    cur = {p.name: p for p in current.glob("sample-*.jsonl.gz")}
    same = bool(ref) and ref.keys() == cur.keys()
    same = same and all(
        hashlib.sha256(ref[n].read_bytes()).digest() == hashlib.sha256(cur[n].read_bytes()).digest()
        for n in ref
    )
    print(
        f"sample: the embedded sample file {', '.join(ref) or '(none)'}: "
        f"{'identical' if same else 'DIFFERS'}"
    )
    return same


def jobs(webmix: Path | None, leave_one_out: bool) -> list[tuple[str, list[str], list[str]]]:
    """(name, arguments with OUT as the output folder, output folders compared under OUT)."""
    ablate = [
        "ablate",
        "rules/openwebtext.yaml",
        "--out",
        "OUT",
        "--eval",
        "EVAL",
        "--input",
        "INPUT",
    ]
    ablate += ["--tokens", "8192", "--seeds", "1", "--curve-points", "1", "--eval-tokens", "2048"]
    ablate += ["--workers", "2", "--quiet"]
    variants = ["variants/raw", "variants/clean"]
    if leave_one_out:
        ablate.append("--leave-one-out")
        variants.append("variants/minus-*")
    result = [
        ("sample", ["run", "rules/openwebtext.yaml", "--output", "OUT", "--quiet"], ["."]),
        ("ablation", ablate, variants),
    ]
    if webmix is not None:
        files = [str(p) for p in sorted(webmix.glob("part-*.jsonl.gz"))]
        run = ["run", "rules/openwebtext.yaml", "--output", "OUT", "--quiet"]
        run += [arg for file in files for arg in ("--input", file)]  # the reference's form
        result.insert(1, ("webmix", run, ["."]))
    return result


def run_side(
    tree: Path, work: Path, job: tuple[str, list[str], list[str]], fresh: bool, shared_input: Path
) -> Path:
    """Run one job with ``tree``'s source; its outputs end in ``work / NAME``.

    Both sides run in the same folder (``ROOT/run/NAME``, then moved) with the same cache
    path, so that the absolute paths the outputs hold (the sample's path in ``rejected/``'s
    ``source``, the tokenizer's in ``tokens/manifest.json``) are equal; the cache is emptied
    first so that each side generates the embedded sample with its own code.
    """
    name, args, _ = job
    root = work.parent
    out, done = work / name, work / f"{name}.done"
    if done.exists() and not fresh:
        return out
    shutil.rmtree(out, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    eval_text = root / "eval.txt"
    if not eval_text.exists():
        # Any UTF-8 text does for the ablation's evaluation: only the variants are compared.
        eval_text.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    running, cache = root / "run" / name, root / "cache"
    shutil.rmtree(running, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    running.parent.mkdir(parents=True, exist_ok=True)
    given = {"OUT": str(running), "EVAL": str(eval_text), "INPUT": str(shared_input)}
    args = [given.get(a, a) for a in args]
    corpusclean(tree, cache, args, work / f"{name}.log")
    shutil.move(running, out)
    for sample in cache.glob("corpusclean/sample-*.jsonl.gz"):
        (work / "samples" / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, work / "samples" / name / sample.name)
    done.touch()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=REFERENCE, help="commit to compare against")
    parser.add_argument("--webmix", type=Path, default=WEBMIX if WEBMIX.is_dir() else None)
    parser.add_argument("--leave-one-out", action="store_true", help="every -STEP variant too")
    parser.add_argument("--fresh", action="store_true", help="rerun the reference side too")
    parser.add_argument("--only", nargs="*", help="job names to run (sample, webmix, ablation)")
    args = parser.parse_args()
    root = cache_root()
    tree = reference_tree(args.reference, root)
    if args.webmix is None:
        print(f"webmix: skipped ({WEBMIX} is absent; pass --webmix DIR)")
    shared_input = root / f"input-{tree.name}.jsonl.gz"
    if not shared_input.exists():
        # The ablation job's input: the embedded sample as the reference's `corpusclean
        # sample` writes it, one file for both sides (the reference's `ablate` mined the
        # sample's prose after importing torch, which changed it; see corpusclean.sample.sources).
        work = root / "input"
        work.mkdir(parents=True, exist_ok=True)
        corpusclean(
            tree,
            root / "cache",
            ["sample", "--docs", "3000", "--seed", "0", "--output", str(shared_input)],
            work / "sample.log",
        )
    ok = True
    for job in jobs(args.webmix, args.leave_one_out):
        if args.only and job[0] not in args.only:
            continue
        reference = run_side(tree, root / f"out-{tree.name}", job, args.fresh, shared_input)
        current = run_side(ROOT, root / "out-current", job, True, shared_input)
        if job[0] == "sample":
            ok &= compare_samples(
                reference.parent / "samples" / "sample", current.parent / "samples" / "sample"
            )
        for pattern in job[2]:
            found = [reference] if pattern == "." else sorted(reference.glob(pattern))
            for folder in found:
                relative = folder.relative_to(reference)
                ok &= compare(f"{job[0]}: {relative}", folder, current / relative)
    print("all identical" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
