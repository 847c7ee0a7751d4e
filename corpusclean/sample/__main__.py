"""``python -m corpusclean.sample OUTPUT [--docs N] [--seed S]``: write the sample to a file."""

from __future__ import annotations

import argparse
import sys

import corpusclean.sample
from corpusclean.sample.writer import write_sample


def main(argv: list[str] | None = None) -> int:
    """``python -m corpusclean.sample OUTPUT [--docs N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m corpusclean.sample", description=corpusclean.sample.__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("output")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n = write_sample(args.output, docs=args.docs, seed=args.seed)
    print(f"wrote {n} records to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
