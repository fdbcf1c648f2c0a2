"""Backtests: the engine's own strategies, risk gate and exits driven over historical candles.

Semantics (``kraken-tui backtest``; what the equality test against the paper exchange checks):
- Signals are computed on the candle file's own bars (timeframe = the file's bar length; gaps are not
  filled). Decisions happen on bar close: ``strategy.on_candle`` -> ``engine.decide.decide`` (basis guard,
  ``engine.risk.evaluate_entry``) with the close as mark and index, equity marked at the close, ATR(14) of the
  signal bars for the volatility bands, the current hour's funding rate for the cost check.
- Market orders (entries, signal/time/flatten closes) fill at the next bar's open plus slippage
  (buys at open x (1 + bps/1e4) rounded up to the tick, sells down), taker fee.
- Inside a bar the price walks open -> adverse extreme -> favourable extreme -> close, adverse relative to
  the position after the open's fills; so when a stop and a take-profit both lie inside one bar, the stop
  fills first. Stops (reduce-only, trigger on mark) fill at the stop price (the open when the bar gapped
  through it) plus slippage, taker fee; take-profit limits fill at their limit price when a print goes
  strictly through it (prints on the tick grid), maker fee. Trailing stops and the time exit
  (``engine.exits.PositionExits.on_mark``) are evaluated at bar closes; a moved stop applies from the next bar.
- Funding is settled at the top of each UTC hour on the position held then: payment = -signed size x
  relative rate x price (spec §8.3: longs pay positive rates), price = the last mark (previous close), rate
  of the hour that just ended, from ``--funding PATH`` or a constant (``--funding-rate``, default 1e-5/h).
- Liquidation follows the paper exchange (``paper.liquidation``: partial with a fee, then full with the fee
  capped at the equity left) when margin equity < maintenance margin (``paper.account`` tiers on entry
  notional), checked with the mark at each vertex of the walk: the bar's adverse extreme is the worst mark.
- Daily loss limit (entries paused until the next UTC day) and equity floor (flatten, then HALTED) are
  evaluated at bar closes with mark-to-market equity (``engine.operator.OperatorStateMachine``).
- Trades are derived from the run's fills and funding with the journal's rules (``journal.trades``): each
  round trip as it closes (``runner.Backtest._round_trip``, equal to ``derive_trades`` over the run's
  journal, which a test checks; ``derive_trades`` itself when a fill crosses zero), statistics with
  ``journal.stats``; a position still open at the end is reported, not counted. An entry after a
  reversal's close keeps its signal id and strategy. Candles stream from the file; memory grows only with
  closed trades.
- Two kernels, same results (tests/backtest/test_event_kernel.py): the bar loop, and the event-skipping kernel
  (``events``; the default for a strategy with a batch signal path and no index series; ``BacktestSettings.kernel``
  or ``KRAKEN_TUI_BACKTEST_KERNEL=bars|events``), which finds the next bar where anything can change the
  account and marks the quiet bars before it to market in bulk.
Modules: ``data`` (inputs: ``open_candles``, funding), ``columns`` (bars as column chunks), ``csvfile`` (CSV reader),
``settings`` (settings, result, quote, fingerprint), ``runner`` (the bar loop), ``events`` (the event-skipping
kernel's next event and quiet stretches), ``fills`` (fills, intents,
funding clock), ``orders`` (resting orders, intrabar walk, liquidation), ``decisions`` (signals, exits,
operator at the close), ``trades`` (round trips), ``report`` (output), ``cli`` (the subcommand).
Must not import textual.
"""
