"""kraken-tui: a terminal trading console for Kraken Futures perpetual contracts.

Importing this package has no side effects: it imports neither textual nor any subpackage, and it changes
no interpreter state (no ``sys.meta_path`` finder; the opt-in compiled build is switched on only by an
explicit ``kraken_tui._accel.install()``, which the command line calls).
"""

__version__ = "0.1.0"
