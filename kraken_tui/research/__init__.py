"""Strategy research: the look-ahead check and ``kraken-tui optimize`` (walk-forward optimisation with optuna).

Modules, one job each:
- ``lookahead``: ``backtest --lookahead-check``, every signal recomputed on data truncated at its bar.
- ``space``: the search space and study settings from TOML (``optimize.example.toml``).
- ``objectives``: window statistics, the objectives (net P&L, Sharpe, Sortino, Calmar, profit factor) and the
  constraints (minimum trades, maximum drawdown).
- ``folds``: the walk-forward layout (anchored or rolling).
- ``overfit``: the deflated Sharpe ratio and the probability of backtest over-fitting (CSCV).
- ``evaluate``: one trial, a pure function of the shared workload and the trial's task.
- ``executors``: where trials run (this process, ``--jobs N`` local processes, ``--ray`` on Ray).
- ``study``: the study runner (optuna TPE in deterministic batches, median pruning, SQLite storage, resume).
- ``report``: the terminal report, ``--json`` and the best parameters as TOML.
- ``cli``: the ``optimize`` subcommand (``--portfolio``: the files as one account, ``backtest.portfolio``).
- ``ml_train`` / ``train_cli``: ``kraken-tui train``, the ``ml`` signal source's model.
- ``evidence``: the default-strategy studies of docs/research.md (``python -m kraken_tui.research.evidence``).
optuna is the optional extra ``research`` and Ray the extra ``distributed``; neither is imported at module
level outside ``study``/``executors`` functions, so ``backtest --lookahead-check`` needs neither.
May import: the backtest, the engine, the journal's statistics and records, domain, config, errors.
Must not import: textual, the UI, the headless runner, the runtime, the control channel, the paper exchange's
server (import-linter contracts in pyproject.toml).
"""
