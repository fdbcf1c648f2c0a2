"""kraken-tui: a terminal trading console for Kraken Futures perpetual contracts.

Importing this package does not import textual; its one side effect is ``_accel.install()``, which puts a
finder first on ``sys.meta_path`` for the optional compiled builds of a few hot modules (used only when they
match their ``.py``; ``KRAKEN_TUI_PURE=1`` turns them off).
"""

from kraken_tui import _accel

__version__ = "0.1.0"

_accel.install()
