import sys

from corpusclean.cli import main

sys.exit(main())
