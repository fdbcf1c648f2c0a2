"""The trading engine: market state, indicators, strategies, risk gate, execution, exits, operator state.

Plain asyncio. Must not import: textual, or any Kraken JSON field name (talks through kraken_tui.kraken).
"""
