"""`python -m bot.cli`: the same as the `flash-green` console script."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
