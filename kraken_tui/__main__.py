"""``python -m kraken_tui`` runs the command line (same as the ``kraken-tui`` script)."""

import sys

from kraken_tui.cli import main

sys.exit(main())
