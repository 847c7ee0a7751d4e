"""Clusters of duplicates: connected components of the candidate (or verified) pair graph.

:func:`union_find` labels every document with its component's smallest index, so the first
document (input order) of each component is the one kept.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def _edge_arrays(edges: object) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(edges, pl.DataFrame | pl.LazyFrame):
        frame = edges.lazy().collect() if isinstance(edges, pl.LazyFrame) else edges
        cols = ("a", "b") if {"a", "b"} <= set(frame.columns) else frame.columns[:2]
        return (
            frame[cols[0]].to_numpy().astype(np.int64),
            frame[cols[1]].to_numpy().astype(np.int64),
        )
    if isinstance(edges, tuple) and len(edges) == 2:
        return np.asarray(edges[0], dtype=np.int64), np.asarray(edges[1], dtype=np.int64)
    arr = np.asarray(edges, dtype=np.int64)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("edges must be (m, 2), a pair of arrays, or a frame with a, b")
    return arr[:, 0], arr[:, 1]


def union_find(n: int, edges: object) -> np.ndarray:
    """Connected components of ``n`` nodes: the root of each node is its component's smallest
    index (int64 array of length ``n``).

    ``edges``: an (m, 2) array, a pair of index arrays, or a frame with columns ``a, b``.
    Vectorised min-label propagation: hook the larger label of each edge onto the smaller
    (``np.minimum.at``), then pointer jumping, until every edge joins equal labels.
    """
    labels = np.arange(n, dtype=np.int64)
    a, b = _edge_arrays(edges)
    if len(a) != len(b):
        raise ValueError("edge arrays must have the same length")
    if len(a) == 0:
        return labels
    if min(int(a.min()), int(b.min())) < 0 or max(int(a.max()), int(b.max())) >= n:
        raise ValueError(f"edge endpoints must be in [0, {n})")
    keep = a != b
    a, b = a[keep], b[keep]
    while len(a):
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            break
        a, b, la, lb = a[differ], b[differ], la[differ], lb[differ]
        low = np.minimum(la, lb)
        np.minimum.at(labels, np.maximum(la, lb), low)  # hook roots: label <- smaller label
        while True:  # pointer jumping until every label is a root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return labels
