"""ablation.md and ablation.html: what an ablation found, in tables, plots and plain words.

The HTML is one self-contained file (plots embedded as PNG data URIs) so it can be mailed or
opened from an artifact store; the Markdown links the same PNGs written beside it. Both lead
with the verdicts, then the numbers behind them, then the settings that make runs comparable.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

# Figure without pyplot renders with Agg and never touches a display (see trainer/plot.py).
from matplotlib.figure import Figure

from trainer.plot import LossStyle, plot_losses

VERDICT_WORDS = {
    "helps": "helps",
    "hurts": "hurts",
    "too close to call": "too close to call at this budget",
    "untested": "untested (one seed)",
    "redundant": "redundant (the same data)",
}


#: Above this fraction of an evaluation text's n-grams found in a variant's training documents
#: the report warns that the variant's perplexity on that text is flattered. Why 1%: GPT-3
#: (Brown et al. 2020, appendix C) calls an example dirty at a single 13-gram; a long
#: perplexity text of which a few sentences leak is a different matter, but at 1% of its
#: n-grams whole passages have been trained on, and the differences the verdicts rest on are
#: a few percent of perplexity.
CONTAMINATION_WARNING = 0.01


def contamination_warnings(result: dict[str, Any]) -> list[str]:
    """One sentence per (variant, eval text) whose n-gram overlap exceeds the threshold."""
    lines = []
    for name, v in result["variants"].items():
        for text, c in (v.get("contamination") or {}).items():
            if c["ngram_overlap"] > CONTAMINATION_WARNING:
                lines.append(
                    f"variant {name}: its training documents hold "
                    f"{100 * c['ngram_overlap']:.1f}% of the {c.get('ngram', 13)}-grams of "
                    f"{Path(text).name} ({c['docs']:,} documents hold some): its perplexity "
                    f"on that text is flattered; decontaminate the data (corpusclean ablate "
                    f"--decontaminate) before trusting a verdict on it"
                )
    return lines


def _colors(names: list[str]) -> dict[str, str]:
    palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
        "#7f7f7f", "#bcbd22", "#17becf",
    ]  # fmt: skip
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def plot_curves(result: dict[str, Any], path: Path) -> Path:
    """Eval perplexity against training tokens: one line per variant and seed (log scale)."""
    names = list(result["variants"])
    colors = _colors(names)
    fig = Figure(figsize=(8, 4.8), dpi=100)
    ax = fig.add_subplot()
    for name in names:
        for i, run in enumerate(result["variants"][name]["runs"].values()):
            points = [p for p in run["points"] if p["tokens"] > 0]
            ax.plot(
                [p["tokens"] for p in points],
                [p["eval_ppl"] for p in points],
                color=colors[name],
                marker="o",
                markersize=3,
                linewidth=1.5,
                alpha=0.9 if i == 0 else 0.55,
                linestyle="-" if i == 0 else "--",
                label=name if i == 0 else None,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("eval perplexity")
    ax.set_title("Learning curves on the evaluation text (solid: first seed, dashed: others)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_bars(result: dict[str, Any], path: Path) -> Path:
    """Final eval perplexity per variant: mean (large dot), each seed (small dots), range.

    A point-range chart rather than bars from zero: the differences that matter are a few
    percent, which bars of full height would hide.
    """
    names = list(result["variants"])
    colors = _colors(names)
    fig = Figure(figsize=(max(6.5, 1.1 * len(names) + 2.5), 4.5), dpi=100)
    ax = fig.add_subplot()
    for x, name in enumerate(names):
        v = result["variants"][name]
        ppl = v["eval_ppl"]
        mean = v["eval_ppl_mean"]
        ax.errorbar(
            x, mean, yerr=[[mean - min(ppl)], [max(ppl) - mean]], fmt="o", markersize=11,
            color=colors[name], ecolor="black", capsize=8, linewidth=1.5,
        )  # fmt: skip
        ax.scatter([x] * len(ppl), ppl, color="black", s=16, zorder=3)
        ax.annotate(f"{mean:,.1f}", (x, mean), xytext=(12, 0), textcoords="offset points",
                    va="center", fontsize=9)  # fmt: skip
    rotate = len(names) > 4
    ax.set_xticks(range(len(names)), names, rotation=30 if rotate else 0,
                  ha="right" if rotate else "center")  # fmt: skip
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("eval perplexity (lower is better)")
    ax.set_title(
        f"Eval perplexity after {result['tokens_per_run']:,} tokens\n"
        "mean (large dot), seeds (small dots), seed range (whiskers)",
        fontsize=10,
    )
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _train_log(run_dir: str) -> list[dict[str, Any]]:
    path = Path(run_dir) / "train" / "log.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# Every variant's first-seed run in one figure, against tokens; the untrained step 0 left out.
VARIANT_LOSSES = LossStyle(
    x="tokens",
    xlabel="training tokens",
    from_step_zero=False,
    figsize=(8, 4.8),
    train_label="{name} train",
    val_label="{name} own val",
    train_line={"linewidth": 1, "alpha": 0.8},
    val_line={"linewidth": 1.5, "linestyle": ":", "marker": "s", "markersize": 3},
    legend={"fontsize": 7, "ncol": 2},
)


def plot_variant_losses(result: dict[str, Any], path: Path) -> Path:
    """Training loss (and each variant's own validation loss) against tokens, first seed."""
    names = list(result["variants"])
    logs = {
        name: _train_log(next(iter(result["variants"][name]["runs"].values()))["dir"])
        for name in names
    }
    title = "Training loss per variant (first seed); each on its own data"
    return plot_losses(logs, path, title, VARIANT_LOSSES, _colors(names))


def _fmt_ppl(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def interval_cell(c: dict[str, Any]) -> str:
    """The comparison's 95% interval of the perplexity change, or why there is none."""
    iv = c.get("interval")
    if not isinstance(iv, dict) or "interval_ppl_change" not in iv:
        return "none: seed rule"
    lo, hi = iv["interval_ppl_change"]
    return f"{_pct(lo)} .. {_pct(hi)}"


def unique_cell(c: dict[str, Any]) -> str:
    """What the ``without`` variant's data hold beyond the ``with`` variant's, in short."""
    u = c.get("unique")
    if not u:
        return "-"
    docs = f"{u['docs']:,}" if "docs" in u else "?"
    return f"{docs}, {u['tokens']:,} ({100 * u['share_of_tokens']:.2f}%)"


def unique_sentence(c: dict[str, Any]) -> str:
    """The same in words, for the verdict line (by id and bytes where the caller gave them)."""
    u = c.get("unique")
    if not u:
        return ""
    parts = []
    if "docs" in u:
        by_id = (
            f" (by id: {u['docs_only_without']:,} kept only without it, "
            f"{u['docs_only_with']:,} only with it)"
            if "docs_only_without" in u
            else ""
        )
        parts.append(f"{u['docs']:,} documents{by_id}")
    if "bytes" in u:
        parts.append(f"{u['bytes']:,} text bytes")
    parts.append(f"{u['tokens']:,} tokens ({100 * u['share_of_tokens']:.2f}% of {c['with']}'s)")
    return f" Data in {c['without']} and not in {c['with']}: " + ", ".join(parts) + "."


def _verdict_line(c: dict[str, Any]) -> str:
    words = VERDICT_WORDS.get(c["verdict"], c["verdict"])
    return (
        f"**{c['label']}** ({c['with']} vs {c['without']}): {words}: {c['explanation']}."
        + unique_sentence(c)
    )


def tables(result: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Every table of the report as rows of strings (first row: header)."""
    seeds = result["seeds"]
    more = result.get("more_evals", {})
    variants = [
        [
            "variant", "documents", "train tokens", "epochs", "eval ppl (mean ± std)",
            *[f"seed {s}" for s in seeds],
            *[f"{Path(path).name} ppl (mean)" for path in more.values()],
            "held-out ppl (mean)", "seconds",
        ]
    ]  # fmt: skip
    for name, v in result["variants"].items():
        held = [x for x in v["heldout_ppl"] if x is not None]
        extra = []
        for key in more:
            values = [x for x in v.get(f"{key}_ppl", []) if x is not None]
            extra.append(_fmt_ppl(sum(values) / len(values)) if values else "-")
        variants.append(
            [
                name,
                f"{v['docs']:,}",
                f"{v['train_tokens']:,}",
                f"{v['epochs']:.2f}",
                f"{_fmt_ppl(v['eval_ppl_mean'])} ± {_fmt_ppl(v['eval_ppl_std'])}",
                *[_fmt_ppl(x) for x in v["eval_ppl"]],
                *extra,
                _fmt_ppl(sum(held) / len(held)) if held else "-",
                f"{v['seconds']:.0f}",
            ]
        )
    comparisons = [
        [
            "what", "with vs without", "per-seed change", "mean change", "95% interval",
            "seed spread", "seed rule", "data only without (docs, tokens)", "verdict",
        ]
    ]  # fmt: skip
    for c in result["comparisons"]:
        comparisons.append(
            [
                c["label"],
                f"{c['with']} vs {c['without']}",
                ", ".join(_pct(x) for x in c["per_seed_ppl_change"]),
                _pct(c["mean_ppl_change"]),
                interval_cell(c),
                f"{100 * (math.exp(c['seed_noise_log_ppl']) - 1):.1f}%",
                c.get("seed_rule_verdict", c["verdict"]),
                unique_cell(c),
                VERDICT_WORDS.get(c["verdict"], c["verdict"]),
            ]
        )
    names = list(result["variants"])
    first = result["variants"][names[0]]["runs"]
    tokens = [p["tokens"] for p in next(iter(first.values()))["points"]]
    curve = [["tokens", *names]]
    for i, t in enumerate(tokens):
        row = [f"{t:,}"]
        for name in names:
            values = [
                run["points"][i]["eval_ppl"] for run in result["variants"][name]["runs"].values()
            ]
            row.append(_fmt_ppl(sum(values) / len(values)))
        curve.append(row)
    texts = list(
        dict.fromkeys(t for v in result["variants"].values() for t in v.get("contamination") or {})
    )
    contamination = [["variant", *[f"{Path(t).name}: n-gram overlap (documents)" for t in texts]]]
    for name, v in result["variants"].items():
        mine = v.get("contamination") or {}
        contamination.append(
            [
                name,
                *[
                    f"{100 * mine[t]['ngram_overlap']:.2f}% ({mine[t]['docs']:,})"
                    if t in mine
                    else "-"
                    for t in texts
                ],
            ]
        )
    s = result["settings"]
    settings = [
        ["setting", "value"],
        ["tokens per run", f"{result['tokens_per_run']:,} ({s['steps']} steps of "
         f"{s['batch_size']} x {s['block_size']})"],
        ["seeds (paired)", ", ".join(map(str, seeds))],
        ["initialisation", s["init"] + (f", blocks {s['keep_layers']}" if s["keep_layers"] else "")
         + (f", model {s['model']}" if s["model"] else "")],
        ["distillation", f"{s['kd'] or 'vanilla'} from {s['teacher']}" if s["teacher"] else "none"],
        ["learning rate", f"{s['lr']:g} (cosine, 10% warmup)"],
        ["precision", s["dtype"]],
        ["evaluation text", f"{result['eval']} (first {s['eval_tokens'] or 'all'} tokens, "
         f"windows of {s['block_size']}, stride {s['eval_stride']})"],
        *[[f"further evaluation text ({k})", path] for k, path in more.items()],
        ["shared held-out slice", f"val split of {s['heldout']}"],
        ["tokenizer", f"sha256 {result['tokenizer_sha256'][:12]}, the same file in every "
         f"variant (checked; read from {result['tokenizer']})"],
        ["initial weights", ", ".join(f"seed {k}: {v[:12]}"
                                      for k, v in result["init_sha256"].items())],
    ]  # fmt: skip
    return {
        "variants": variants,
        "comparisons": comparisons,
        "curve": curve,
        "settings": settings,
        "contamination": contamination if texts else [],
    }


def _md_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


INTRO = (
    "Each variant's data trained one model per seed from the same initial weights, with the "
    "same tokenizer, token budget and schedule; seed k gives every variant the same "
    "initialisation and the same random batch positions. A difference counts only when every "
    "seed agrees on its sign and its 95% interval, which adds the noise between seeds "
    "(training; estimated from every variant's runs together when there are three or more) "
    "to the noise between blocks of the evaluation text (sampling), excludes 0; "
    "otherwise it is reported as too close to call. Runs recorded without per-block losses "
    "fall back to the seed rule (every seed agrees and the mean exceeds the seed spread), "
    "which is also shown beside. Two variants whose data are (near-)identical are redundant."
)


def noise_sentence(result: dict[str, Any]) -> str:
    """One run's training noise as the verdicts pooled it, in words ("" when not pooled)."""
    pool = result.get("pooled_training_noise")
    if not pool:
        return ""
    return (
        f"Training noise, pooled over {pool['variants']} variants x {len(result['seeds'])} "
        f"seeds ({pool['df']} degrees of freedom): one run's eval perplexity moves by about "
        f"{100 * math.expm1(math.sqrt(pool['variance'])):.1f}% from seed to seed beyond what "
        "the seed does to every variant; a comparison whose own seeds spread more keeps "
        "its own spread."
    )


def write_ablation_report(out: Path, result: dict[str, Any]) -> Path:
    """Write ablation.md, ablation.html and the three PNGs into ``out``; return the .md path."""
    images = {
        "curves": plot_curves(result, out / "ablation_curves.png"),
        "bars": plot_bars(result, out / "ablation_ppl.png"),
        "losses": plot_variant_losses(result, out / "ablation_loss.png"),
    }
    t = tables(result)
    title = result.get("title") or "Ablation: which data trains the better model"
    verdicts = [_verdict_line(c) for c in result["comparisons"]]
    warnings = contamination_warnings(result)
    contamination_md = (
        [
            "## Contamination (evaluation n-grams in each variant's training documents)",
            "",
            _md_table(t["contamination"]),
            "",
        ]
        if t["contamination"]
        else []
    )
    md = [
        f"# {title}",
        "",
        INTRO,
        "",
        *[line for w in warnings for line in (f"> **Warning: contamination.** {w}.", "")],
        "## Verdicts",
        "",
        *[f"- {v}" for v in verdicts],
        "",
        *([noise_sentence(result), ""] if noise_sentence(result) else []),
        "## Eval perplexity per variant",
        "",
        _md_table(t["variants"]),
        "",
        "![eval perplexity per variant](ablation_ppl.png)",
        "",
        "## Paired differences (with minus without, per seed)",
        "",
        _md_table(t["comparisons"]),
        "",
        *contamination_md,
        "## Learning curves (mean eval perplexity over seeds)",
        "",
        _md_table(t["curve"]),
        "",
        "![learning curves](ablation_curves.png)",
        "",
        "![training loss](ablation_loss.png)",
        "",
        "## Settings",
        "",
        _md_table(t["settings"]),
        "",
    ]
    md_path = out / "ablation.md"
    md_path.write_text("\n".join(md), encoding="utf-8")

    def table(rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def image(name: str, alt: str) -> str:
        data = base64.b64encode(images[name].read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'

    def verdict_html(c: dict[str, Any]) -> str:
        words = VERDICT_WORDS.get(c["verdict"], c["verdict"])
        css = c["verdict"].replace(" ", "-")
        return (
            f"<li><b>{html.escape(c['label'])}</b> ({html.escape(c['with'])} vs "
            f'{html.escape(c["without"])}): <span class="{css}">{html.escape(words)}</span>: '
            f"{html.escape(c['explanation'])}.{html.escape(unique_sentence(c))}</li>"
        )

    warnings_html = "".join(
        f'<p class="warning"><b>Warning: contamination.</b> {html.escape(w)}.</p>' for w in warnings
    )
    contamination_html = (
        "<h2>Contamination (evaluation n-grams in each variant's training documents)</h2>"
        + table(t["contamination"])
        if t["contamination"]
        else ""
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; display: block; margin: 1em 0; }}
.helps {{ color: #1a7f37; font-weight: bold; }} .hurts {{ color: #c62828; font-weight: bold; }}
.too-close-to-call, .untested {{ color: #8a6d00; font-weight: bold; }}
.redundant {{ color: #555; font-weight: bold; }}
.warning {{ border-left: 4px solid #c62828; background: #fdecea; padding: 0.5em 1em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(INTRO)}</p>
{warnings_html}
<h2>Verdicts</h2>
<ul>{"".join(verdict_html(c) for c in result["comparisons"])}</ul>
{f"<p>{html.escape(noise_sentence(result))}</p>" if noise_sentence(result) else ""}
<h2>Eval perplexity per variant</h2>
{table(t["variants"])}
{image("bars", "eval perplexity per variant")}
<h2>Paired differences (with minus without, per seed)</h2>
{table(t["comparisons"])}
{contamination_html}
<h2>Learning curves</h2>
{table(t["curve"])}
{image("curves", "learning curves")}
{image("losses", "training loss")}
<h2>Settings</h2>
{table(t["settings"])}
</body></html>
"""
    (out / "ablation.html").write_text(page, encoding="utf-8")
    return md_path


def find_browser() -> str | None:
    """A headless-capable Chromium on PATH, if any."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def coloured_pixels(html_file: Path, workdir: Path, browser: str) -> tuple[int, int]:
    """How many saturated pixels headless Chromium paints for the page, with and without images.

    The report's text and tables are black and grey; its plots are drawn in the palette's
    saturated colours. So "the plots are visible" means: the page as written shows many more
    coloured pixels than the same page with its ``<img>`` elements removed. Screenshots go to
    ``workdir`` (never the repository).
    """
    import re
    import subprocess

    from matplotlib.image import imread

    bare = workdir / "bare.html"
    bare.write_text(re.sub(r"<img [^>]*>", "", html_file.read_text(encoding="utf-8")), "utf-8")
    counts = []
    for page, shot in ((html_file, workdir / "report.png"), (bare, workdir / "bare.png")):
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--screenshot={shot}", "--window-size=1100,4000", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        pixels = imread(shot)[..., :3]
        counts.append(int(((pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.3).sum()))
    return counts[0], counts[1]
