"""``corpusclean report`` on the output of a 1-million-document run (issue 13: "finishes in
under a minute and writes a page under 5 MB").

    python benchmarks/report_scale.py                    # 1,000,000 documents, 2 workers
    python benchmarks/report_scale.py --docs 100000      # smaller, for a quick look
    python benchmarks/report_scale.py --parts            # also time each part of the report

What it does:

1. **Input** (:func:`write_input`), written once into ``~/.cache/corpusclean/bench-report/``
   (reused while the generator's version, seed and size are the same): ``--docs`` short
   documents (about 250-650 bytes) as JSONL.gz files of 125,000 records, generated with numpy
   and Polars from a seeded generator, no Python loop per document. Prose is sentences of words
   drawn (Zipf-weighted) from fixed vocabularies: English (88%) and French, German, Spanish,
   Russian and Chinese (2.4% each), so ``language`` has pages to drop; 10% of the prose pages
   end with a line C4's rules remove ("Share this", a JavaScript notice), so ``c4_quality``
   rewrites kept pages. Planted: 5% exact copies of an earlier document, 3% near copies (one
   word changed: word 5-gram Jaccard about 0.9), 5% junk (navigation menus of repeated short
   lines, one-line pages, pages opening with an HTML tag, pages whose text is there twice).
   Junk and copies are decided per document by the seeded generator, so the input is the
   same bytes on every machine.
2. **Run**: ``corpusclean run RULES --workers 2`` with :data:`RULES` (``language``,
   ``gopher_quality``, ``gopher_repetition``, ``c4_quality``, ``html_tags``, ``exact_dedup``,
   ``minhash_dedup``: histograms from five steps, two cluster tables, rewritten lines;
   ``unicode_repair`` is left out, it costs ftfy's time and adds no chart), timed, once
   (``--rerun`` runs it again; otherwise an existing finished output is reused).
3. **Report**: ``corpusclean report DIR`` three times (``--repeat``), wall clock from process
   start to exit and peak resident memory (``VmHWM`` of the process, sampled; the command
   starts no worker), the median printed; then the sizes of ``report.html``,
   ``report.md`` and ``stats.json``.
4. ``--parts``: each part of the report timed in this process, one call each
   (``run_output.choose_rejected_by_reason`` for every step at once,
   ``run_output.duplicate_clusters`` per dedup step, ``render_markdown``, ``render_html``), to
   say where the time goes.

Wrap it in ``flock /tmp/corpusclean-bench.lock`` when other benchmarks share the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = Path.home() / ".cache" / "corpusclean" / "bench-report"
GENERATOR_VERSION = 2
FILE_DOCS = 125_000

RULES = """\
version: 1
name: report-scale
steps:
  - language: {keep: [en], min_score: 0.65}
  - gopher_quality: {}
  - gopher_repetition: {}
  - c4_quality: {}
  - html_tags: {}
  - exact_dedup: {}
  - minhash_dedup: {num_perm: 128, ngram: 5, threshold: 0.8, verify: true}
"""

# Vocabularies: frequent words of each language (stop words first, so the Zipf weights make them
# the most frequent, as in real prose: Gopher's stop-word rule needs two per page).
EN = """the of and to a in is that for it as was with be by on not he this are or his from at
which but have an they you were their one all we can her has there been if more when will would
who so no she other its may these about than into only time some could them people after first
also new because very most over even such our years just well any two made like where many life
work before between both through being those down while great world under never own same
another city house water school place country part state small long book family children head
river story market garden light morning evening music history science village road train winter
summer report plan question answer letter paper table window street field forest island bridge
museum library teacher student doctor kitchen weather language journey picture season mountain
harbour station council company museum painter writer farmer sailor engineer builder gardener
bring carry write read speak listen travel build grow learn teach follow open close begin
remember explain describe visit return arrive leave change show study walk stand keep find give
take make know think look want come call turn move live believe hold happen provide include
continue set learn lead understand watch meet pay sit play run spend offer appear serve die send
expect stay fall cut reach kill remain suggest raise pass sell require decide pull develop
quiet bright early late warm cold green old young large little important different public
possible local social national strong free hard clear full simple certain recent personal""".split()
FR = """le la les de des du et est un une pour dans que qui sur pas plus avec ce il elle nous
vous ils sont été être avoir fait comme mais ou où donc très tout tous aussi bien leur encore
maison ville temps année jour pays monde histoire école rivière marché jardin lumière matin soir
musique livre famille enfants route train hiver été rapport lettre fenêtre rue forêt île
pont""".split()
DE = """der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es an
als nach wie aus bei wird sind noch nur oder aber vor zur bis mehr durch man hat sehr schon wenn
Haus Stadt Zeit Jahr Tag Land Welt Geschichte Schule Fluss Markt Garten Licht Morgen Abend Musik
Buch Familie Kinder Straße Zug Winter Sommer Bericht Brief Fenster Wald Insel Brücke""".split()
ES = """el la los las de del y que en un una por con para es no se lo como más pero sus le ya
o fue este ha si porque esta son entre cuando muy sin sobre también me hasta hay donde desde
casa ciudad tiempo año día país mundo historia escuela río mercado jardín luz mañana tarde música
libro familia niños camino tren invierno verano informe carta ventana calle bosque isla""".split()
RU = """и в не на я что он с как а то все она так его но да ты к у же вы за бы по только ее
мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был
дом город время год день страна мир история школа река рынок сад свет утро вечер музыка книга
семья дети дорога поезд зима лето письмо окно улица лес остров мост""".split()
ZH = """的 一 是 不 了 人 我 在 有 他 这 中 大 来 上 国 个 到 说 们 为 子 和 你 地 出 道 也 时
年 得 就 那 要 下 以 生 会 自 着 去 之 过 家 学 对 可 她 里 后 小 么 心 多 天 而 能 好 都 然 没
城市 时间 学校 河流 市场 花园 音乐 书本 家庭 孩子 道路 火车 冬天 夏天 报告 信件 窗户 街道""".split()
#: (code, words, share of the prose pages, whether sentences start with a capital)
LANGUAGES = [
    ("en", EN, 0.88, True),
    ("fr", FR, 0.024, True),
    ("de", DE, 0.024, True),
    ("es", ES, 0.024, True),
    ("ru", RU, 0.024, True),
    ("zh", ZH, 0.024, False),
]
TAILS = ["Share this", "Please enable JavaScript to see the comments.", "Read more", "Tags: news"]
JUNK = [
    # a navigation menu: short repeated lines
    "Home\nAbout\nContact\nLogin\nHome\nAbout\nContact\nLogin\nHome\nAbout\nContact\nLogin\n"
    "Page {n}",
    # a one-line page
    "Click here to buy cheap tickets now, offer {n}",
]
SHARES = {"exact": 0.05, "near": 0.03, "junk": 0.05}


def _token_table(words: list[str], capitals: bool) -> list[str]:
    """Each word in six forms, at ``(w * 2 + capitalised) * 3 + separator``: as it is or with a
    capital, followed by a space, a full stop and a space, or a full stop and a line break."""
    out = []
    for word in words:
        cap = word[:1].upper() + word[1:] if capitals else word
        for form in (word, cap):
            for sep in (" ", ". ", ".\n"):
                out.append(form + sep)
    return out  # index: (w * 2 + capitalised) * 3 + separator


def _prose(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per document: its language (index into LANGUAGES), a word matrix (n, 110) of word ids
    within that language's vocabulary and its length in words (55 to 110)."""
    lang = rng.choice(len(LANGUAGES), size=n, p=[x[2] for x in LANGUAGES])
    lengths = rng.integers(55, 111, n)
    words = np.zeros((n, 110), dtype=np.int64)
    for i, (_, vocab, _, _) in enumerate(LANGUAGES):
        rows = np.flatnonzero(lang == i)
        weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.8  # Zipf: stop words most frequent
        words[rows] = rng.choice(len(vocab), size=(len(rows), 110), p=weights / weights.sum())
    return lang, words, lengths


def _texts(
    rng: np.random.Generator, lang: np.ndarray, words: np.ndarray, lengths: np.ndarray
) -> pl.Series:
    """The documents' texts: sentences of 6-17 words, a line break after one in three, the
    first word of a sentence capitalised, the last one ending in a full stop."""
    n, width = words.shape
    end = rng.random((n, width)) < 1 / 11  # a sentence ends after this word
    end[np.arange(n), lengths - 1] = True
    newline = end & (rng.random((n, width)) < 1 / 3)
    newline[np.arange(n), lengths - 1] = False
    separator = np.where(newline, 2, np.where(end, 1, 0))
    capital = np.zeros((n, width), dtype=bool)
    capital[:, 0] = True
    capital[:, 1:] = end[:, :-1]
    tables = [_token_table(v, caps) for _, v, _, caps in LANGUAGES]
    offsets = np.cumsum([0, *(len(t) for t in tables)])[:-1]
    table = pl.Series([t for tab in tables for t in tab], dtype=pl.String)
    token = offsets[lang][:, None] + (words * 2 + capital) * 3 + separator
    inside = np.arange(width)[None, :] < lengths[:, None]
    doc = np.broadcast_to(np.arange(n)[:, None], (n, width))[inside]
    frame = pl.DataFrame({"doc": doc, "t": table.gather(token[inside])})
    return (
        frame.group_by("doc", maintain_order=True)
        .agg(pl.col("t").str.join(""))
        .get_column("t")
        .str.strip_chars_end()
    )


def write_input(docs: int, seed: int = 0) -> Path:
    """The benchmark's input in the cache (written once): ``docs`` documents in JSONL.gz files
    of :data:`FILE_DOCS` records ``{"id", "text"}``; returns the folder."""
    folder = CACHE / f"input-v{GENERATOR_VERSION}-seed{seed}-{docs}"
    done = folder / "DONE"
    if done.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for number, start in enumerate(range(0, docs, FILE_DOCS)):
        n = min(FILE_DOCS, docs - start)
        lang, words, lengths = _prose(rng, n)
        kind = rng.random(n)
        kind[0] = 1.0  # the file's first document is an original
        exact = kind < SHARES["exact"]
        near = (kind >= SHARES["exact"]) & (kind < SHARES["exact"] + SHARES["near"])
        junk_at = SHARES["exact"] + SHARES["near"]
        junk = (kind >= junk_at) & (kind < junk_at + SHARES["junk"])
        # a copy takes an earlier original's words, length and language
        copies = np.flatnonzero(exact | near)
        originals = np.flatnonzero(~(exact | near | junk))
        earlier = np.searchsorted(originals, copies)  # originals before each copy (>= 1)
        source = originals[(rng.random(len(copies)) * earlier).astype(np.int64)]
        words[copies], lengths[copies], lang[copies] = (
            words[source],
            lengths[source],
            lang[source],
        )
        near_rows = np.flatnonzero(near)
        at = (rng.random(len(near_rows)) * lengths[near_rows]).astype(np.int64)
        sizes = np.array([len(x[1]) for x in LANGUAGES])[lang[near_rows]]
        words[near_rows, at] = (words[near_rows, at] + 1 + rng.integers(0, 5, len(near_rows))) % (
            sizes
        )
        texts = _texts(rng, lang, words, lengths)
        # one line C4 removes, appended to one prose page in ten (copies keep their source's
        # text exactly, so not to them)
        tail = (rng.random(n) < 0.1) & ~(exact | near | junk)
        tail_text = pl.Series(TAILS).gather(rng.integers(0, len(TAILS), n))
        texts = (
            pl.DataFrame({"t": texts, "tail": tail_text, "has": tail})
            .select(pl.when("has").then(pl.col("t") + "\n" + pl.col("tail")).otherwise(pl.col("t")))
            .to_series()
        )
        copies_text = texts.gather(source)
        texts = texts.scatter(copies, copies_text)
        # near copies: their own words (one changed), so their own text from _texts
        near_texts = _texts(rng, lang[near_rows], words[near_rows], lengths[near_rows])
        texts = texts.scatter(near_rows, near_texts)
        # junk: a menu or a one-line page (templates), a page with markup, a page said twice
        junk_rows = np.flatnonzero(junk)
        junk_kind = rng.integers(0, 4, len(junk_rows))
        page = texts.gather(junk_rows)
        junk_texts = (
            pl.DataFrame(
                {
                    "kind": junk_kind,
                    "page": page,
                    "tpl": pl.Series(JUNK).gather(junk_kind % 2),
                    "n": rng.integers(0, 1000, len(junk_rows)),
                }
            )
            .select(
                pl.when(pl.col("kind") == 2)
                .then("<p>" + pl.col("page"))
                .when(pl.col("kind") == 3)
                .then(pl.col("page") + "\n" + pl.col("page"))
                .otherwise(
                    pl.col("tpl").str.replace_all("{n}", pl.col("n").cast(pl.String), literal=True)
                )
            )
            .to_series()
        )
        texts = texts.scatter(junk_rows, junk_texts)
        frame = pl.DataFrame({"text": texts}).select(
            pl.format("r{}", (pl.int_range(0, n) + start).cast(pl.String).str.zfill(7)).alias("id"),
            "text",
        )
        path = folder / f"part-{number:04d}.jsonl.gz"
        _write_gzip_ndjson(frame, path)
    done.write_text(json.dumps({"docs": docs, "seed": seed, "version": GENERATOR_VERSION}))
    return folder


def _write_gzip_ndjson(frame: pl.DataFrame, path: Path) -> None:
    """JSON lines through ``gzip -1`` (the system's, a separate process: fast, and mtime-free
    with ``-n``), written atomically."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        gz = subprocess.Popen(["gzip", "-1", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert gz.stdin is not None
        frame.write_ndjson(gz.stdin)
        gz.stdin.close()
        if gz.wait() != 0:
            raise RuntimeError(f"gzip failed writing {path}")
    tmp.rename(path)


def measured(command: list[str]) -> tuple[float, int, int]:
    """Run ``command``; (seconds, exit status, peak RSS in bytes of the process).

    Peak RSS is ``VmHWM`` of ``/proc/PID/status``, read every 20 ms until the process exits:
    not ``ru_maxrss`` from ``wait4``, which on Linux keeps the high-water mark of the memory
    the child had before ``exec`` (a copy of this process, which holds the generated corpus)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.02)
    return time.perf_counter() - start, process.returncode, peak


def run(folder: Path, out: Path, workers: int) -> tuple[float, int]:
    rules = CACHE / "report-scale.yaml"
    rules.write_text(RULES)
    command = [sys.executable, "-m", "corpusclean", "run", str(rules)]
    for path in sorted(folder.glob("part-*.jsonl.gz")):
        command += ["--input", str(path)]
    command += ["--output", str(out), "--workers", str(workers), "--quiet"]
    seconds, code, rss = measured(command)
    if code != 0:
        raise SystemExit(f"corpusclean run failed ({code})")
    return seconds, rss


def parts(out: Path) -> list[tuple[str, float]]:
    """Each part of ``corpusclean report``, timed once in this process."""
    from corpusclean import run_output
    from corpusclean.report import content, render_html, render_markdown

    timings: list[tuple[str, float]] = []

    def timed(name: str, call: Any) -> Any:
        start = time.perf_counter()
        value = call()
        timings.append((name, time.perf_counter() - start))
        return value

    stats = timed("read_stats", lambda: run_output.read_stats(out))
    reasons = [r for r, n in stats["rejected"].items() if n]
    timed(
        f"choose_rejected_by_reason ({len(reasons)} steps, one pass)",
        lambda: run_output.choose_rejected_by_reason(
            out, reasons, content.EXAMPLES_PER_STEP, content.EXAMPLE_SEED
        ),
    )
    for step in stats["steps"]:
        if step["name"] in run_output.dedup_steps() and step["rejected"]:
            timed(
                f"duplicate_clusters {step['name']}",
                lambda s=step: run_output.duplicate_clusters(
                    out, s["name"], top=content.TOP_CLUSTERS, members=content.CLUSTER_MEMBERS
                ),
            )
    report = timed("content.gather (all of the above)", lambda: content.gather(out))
    timed("render_markdown", lambda: render_markdown(report))
    timed("render_html", lambda: render_html(report))
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rerun", action="store_true", help="run even if an output exists")
    parser.add_argument("--parts", action="store_true", help="time each part of the report")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    folder = write_input(args.docs, args.seed)
    generated = time.perf_counter() - start
    in_bytes = sum(p.stat().st_size for p in folder.glob("part-*.jsonl.gz"))
    print(f"input: {folder} ({in_bytes / 1e6:,.0f} MB gzip; ready in {generated:.1f} s)")
    out = CACHE / f"out-{folder.name}"
    if args.rerun or not (out / "stats.json").is_file():
        run_seconds, run_rss = run(folder, out, args.workers)
        print(f"run: {run_seconds:.1f} s, parent peak RSS {run_rss / 1e6:,.0f} MB")
    stats = json.loads((out / "stats.json").read_text())
    print(
        f"output: {out}: {stats['input_docs']:,} documents in, {stats['kept_docs']:,} kept, "
        f"{sum(stats['rejected'].values()):,} rejected ({json.dumps(stats['rejected'])}); "
        f"run {stats['seconds']:.1f} s (engine) with {stats.get('workers')} workers"
    )
    report = [sys.executable, "-m", "corpusclean", "report", str(out)]
    runs = []
    for _ in range(args.repeat):
        seconds, code, rss = measured(report)
        if code != 0:
            raise SystemExit(f"corpusclean report failed ({code})")
        runs.append((seconds, rss))
    median = statistics.median(s for s, _ in runs)
    peak = max(r for _, r in runs)
    sizes = {name: (out / name).stat().st_size for name in ("report.html", "report.md")}
    sizes["stats.json"] = (out / "stats.json").stat().st_size
    svgs = (out / "report.html").read_text(encoding="utf-8").count("<svg")
    print()
    print(
        f"| documents | `corpusclean report` s (median of {len(runs)}) | runs s | peak RSS MB |"
        " report.html MB | report.md kB | stats.json kB | charts |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {stats['input_docs']:,} | {median:.2f} | "
        + ", ".join(f"{s:.2f}" for s, _ in runs)
        + f" | {peak / 1e6:,.0f} | {sizes['report.html'] / 1e6:.2f} | "
        f"{sizes['report.md'] / 1e3:,.0f} | {sizes['stats.json'] / 1e3:,.0f} | {svgs} |"
    )
    verdict = median < 60 and sizes["report.html"] < 5e6
    print(f"\nissue 13 (under 60 s, page under 5 MB): {'met' if verdict else 'NOT met'}")
    if args.parts:
        print("\n| part | seconds |\n|---|---|")
        for name, seconds in parts(out):
            print(f"| {name} | {seconds:.2f} |")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
