"""kraken-tui: a terminal trading console for Kraken Futures perpetual contracts.

Importing this package has no side effects and does not import textual.
"""

__version__ = "0.1.0"
