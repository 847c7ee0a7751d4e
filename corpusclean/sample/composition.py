"""Which record is which: the ``truth`` labels, their shares, and their shuffled order.

Raw Common Crawl WET text is mostly not worth training on: standard recipes (C4, Gopher,
RefinedWeb, FineWeb) keep well under half of it. The sample mirrors that with ``COMPOSITION``;
counts are apportioned exactly, so the proportions hold for any size.
"""

from __future__ import annotations

from corpusclean.sample.seeds import seeded

#: Share of each ``truth`` label; counts are apportioned exactly (largest remainder).
COMPOSITION: dict[str, float] = {
    "clean": 0.38,
    "exact_dup": 0.10,
    "near_dup": 0.08,
    "mojibake": 0.04,
    "non_english": 0.16,
    "boilerplate": 0.09,
    "link_list": 0.06,
    "keyword_spam": 0.04,
    "short": 0.05,
}
TRUTHS: tuple[str, ...] = tuple(COMPOSITION)


def plan(docs: int, seed: int) -> list[str]:
    """The shuffled ``truth`` sequence: exact counts, and no copy before the first clean record."""
    quotas = {t: docs * share for t, share in COMPOSITION.items()}
    counts = {t: int(q) for t, q in quotas.items()}
    by_remainder = sorted(TRUTHS, key=lambda t: (-(quotas[t] - counts[t]), TRUTHS.index(t)))
    for t in by_remainder[: docs - sum(counts.values())]:
        counts[t] += 1
    labels = [t for t in TRUTHS for _ in range(counts[t])]
    seeded(seed, "plan").shuffle(labels)
    copies = ("exact_dup", "near_dup")
    first_copy = next((i for i, t in enumerate(labels) if t in copies), None)
    first_clean = next((i for i, t in enumerate(labels) if t == "clean"), None)
    if first_copy is not None:
        if first_clean is None:
            labels = ["clean" if t in copies else t for t in labels]
        elif first_clean > first_copy:
            labels[first_copy], labels[first_clean] = labels[first_clean], labels[first_copy]
    return labels
