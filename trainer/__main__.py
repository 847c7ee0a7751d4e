"""Lets ``python -m trainer ...`` behave exactly like the ``trainer`` console script."""

from trainer.cli import main

raise SystemExit(main())
