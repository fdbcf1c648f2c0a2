"""Backtests: the engine's own strategies, risk gate and exits driven over history. Must not import textual."""
