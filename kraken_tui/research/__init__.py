"""Strategy research: the look-ahead check and ``kraken-tui optimize`` (walk-forward optimisation with optuna).

Modules: ``lookahead`` (``backtest --lookahead-check``: every signal recomputed on data truncated at its bar).
May import: the backtest, the engine, the journal's statistics and records, domain, config, errors.
Must not import: textual, the UI, the headless runner, the runtime, the control channel, the paper exchange's
server (import-linter contracts in pyproject.toml).
"""
