"""Score a run's keep/drop decisions against planted truth labels.

The embedded sample labels every record with the defect it was built to have (``truth``), and
real benchmark corpora ship such labels too (../shared/data's ``labels.parquet``, column
``category``). Given labels ``id -> class`` and the classes a recipe *should* keep, this says,
per class, how many documents were kept or dropped and by which step, and the precision and
recall of the drops: precision = the share of dropped documents that should have been dropped;
recall = the share of should-drop documents that were dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

#: Classes of the embedded sample that a cleaning recipe should keep (mojibake is repaired).
SAMPLE_KEEP = ("clean", "mojibake")


def read_labels(path: Path, column: str = "truth", id_column: str = "id") -> pl.DataFrame:
    """``id, truth`` from a Parquet or JSON-lines file (gzip allowed), other columns ignored."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path, columns=[id_column, column])
    else:
        frame = pl.read_ndjson(path).select(id_column, column)
    return frame.select(
        pl.col(id_column).cast(pl.String).alias("id"), pl.col(column).cast(pl.String).alias("truth")
    )


def _outcomes(output: Path) -> pl.DataFrame:
    """``id, reason`` for every decided document (reason null = kept)."""
    frames = []
    kept = sorted((output / "documents").glob("part-*.parquet"))
    if kept:
        frames.append(
            pl.scan_parquet(kept).select("id", pl.lit(None, dtype=pl.String).alias("reason"))
        )
    rejected = sorted((output / "rejected").glob("part-*.parquet"))
    if rejected:
        frames.append(pl.scan_parquet(rejected).select("id", "reason"))
    if not frames:
        return pl.DataFrame(schema={"id": pl.String, "reason": pl.String})
    return pl.concat(frames).collect()


def score(
    output: Path, labels: pl.DataFrame, keep: tuple[str, ...] = SAMPLE_KEEP
) -> dict[str, Any]:
    """Per-class decisions and drop precision/recall for the run in ``output``."""
    joined = _outcomes(output).join(labels, on="id", how="inner")
    joined = joined.with_columns(
        pl.col("reason").is_not_null().alias("dropped"),
        ~pl.col("truth").is_in(list(keep)).alias("should_drop"),
    )
    classes: dict[str, Any] = {}
    for (truth,), group in joined.sort("truth").group_by("truth", maintain_order=True):
        reasons = group.filter(pl.col("dropped")).get_column("reason").value_counts(sort=True)
        classes[str(truth)] = {
            "docs": group.height,
            "kept": int((~group.get_column("dropped")).sum()),
            "dropped": int(group.get_column("dropped").sum()),
            "should_drop": str(truth) not in keep,
            "by_step": dict(
                zip(reasons["reason"], (int(n) for n in reasons["count"]), strict=True)
            ),
        }
    dropped = int(joined.get_column("dropped").sum())
    should = int(joined.get_column("should_drop").sum())
    hits = int((joined.get_column("dropped") & joined.get_column("should_drop")).sum())
    return {
        "labelled_docs": joined.height,
        "keep_classes": list(keep),
        "drop_precision": round(hits / dropped, 4) if dropped else None,
        "drop_recall": round(hits / should, 4) if should else None,
        "classes": classes,
    }
