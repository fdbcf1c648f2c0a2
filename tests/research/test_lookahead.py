"""The look-ahead check (``research.lookahead``, ``kraken-tui backtest --lookahead-check``): every built-in
strategy passes on real candles; strategies planted here that read a later bar fail, naming the bar, the
strategy and the field."""

from __future__ import annotations

import json

import pytest

from kraken_tui.cli import main
from kraken_tui.engine.signals import SignalSide
from kraken_tui.engine.strategies import STRATEGIES, StrategyBase
from kraken_tui.research.lookahead import LookaheadError, check_lookahead
from tests.backtest._util import PF_5M, settings_for


class _PeekNextClose(StrategyBase):
    """Planted look-ahead: long at bar j when the NEXT close in the chunk is higher (a batch path that reads
    one bar ahead); the streaming path cannot see it and says nothing."""

    name = "peek_next"
    protective_exits = False
    sizing = "fixed"

    def on_candle(self, symbol, timeframe, candle, view):
        return None

    def on_candles(self, symbol, timeframe, cols, view):
        ts, closes = cols[0], cols[4]
        return [(j, self.signal_at(symbol, SignalSide.LONG, 1.0, "next close higher", {}, ts[j]))
                for j in range(len(closes) - 1) if closes[j + 1] > closes[j] and j % 7 == 0]


class _PeekConfidence(StrategyBase):
    """Planted look-ahead in one field: a signal every 10th bar (by time, causal) whose confidence uses the
    next bar's close when the chunk holds it."""

    name = "peek_confidence"
    protective_exits = False
    sizing = "fixed"

    def on_candle(self, symbol, timeframe, candle, view):
        return None

    def on_candles(self, symbol, timeframe, cols, view):
        ts, closes = cols[0], cols[4]
        out = []
        for j in range(len(closes)):
            if (ts[j] // 60_000) % 10 == 0:
                conf = 0.9 if j + 1 < len(closes) and closes[j + 1] > closes[j] else 0.5
                out.append((j, self.signal_at(symbol, SignalSide.LONG, conf, "every 10th", {}, ts[j])))
        return out


def _signal_file(tmp_path, rows):
    path = tmp_path / "signals.jsonl"
    with open(path, "w") as fh:
        for i in range(5, len(rows), 37):
            fh.write(json.dumps({"ts_ms": rows[i][0] + 120_000, "symbol": "PF_XBTUSD",
                                 "side": "long" if i % 2 else "short", "confidence": 0.9}) + "\n")
    return path


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_builtin_strategy_passes(name, shared_data, tmp_path):
    path = shared_data(PF_5M)
    settings, rows = settings_for(path, name)
    rows = list(rows)
    params: dict = {}
    if name == "external":
        params = {"path": str(_signal_file(tmp_path, rows))}
    elif name == "patterns":  # every completed pattern, so that the short file gives enough signals
        params = {"min_pattern_reliability": 0.0}
    elif name == "ml":  # a small model trained on the same file (test_ml covers training itself)
        pytest.importorskip("sklearn")
        from threadpoolctl import threadpool_limits

        model = tmp_path / "model.pkl"
        threads = threadpool_limits(1)  # OpenMP on a shared 2-core machine: one thread is faster and as exact
        assert main(["train", "--candles", str(path), "--out", str(model), "--horizon", "6", "--embargo", "6",
                     "--max-iter", "10", "--json"]) == 0
        params = {"model_path": str(model), "min_confidence": 0.05}
    elif name == "ensemble":  # low threshold so that it signals on this short file; the external slot too
        params = {"min_confidence": 0.1, "external": {"path": str(_signal_file(tmp_path, rows))}}
    settings.strategy_params = params
    try:
        report = check_lookahead(settings, rows)
    finally:
        if name == "ml":
            threads.restore_original_limits()
    assert report.signals > 5, "the check must have signals to compare"
    assert report.fresh == min(report.signals, 20)
    assert report.bars == len(rows)


def test_planted_lookahead_fails_naming_bar_strategy_and_field(shared_data, monkeypatch):
    monkeypatch.setitem(STRATEGIES, "peek_next", _PeekNextClose)
    settings, rows = settings_for(shared_data(PF_5M), "peek_next")
    rows = list(rows)
    with pytest.raises(LookaheadError) as ei:
        check_lookahead(settings, rows)
    err = ei.value
    first = next(j for j in range(len(rows) - 1) if rows[j + 1][4] > rows[j][4] and j % 7 == 0)
    assert (err.bar, err.strategy, err.field) == (first, "peek_next", "signal")
    assert (err.full, err.truncated, err.run) == ("long", None, "truncated")
    assert f"bar {first}" in str(err) and "peek_next" in str(err)


def test_planted_lookahead_in_one_field_is_named(shared_data, monkeypatch):
    monkeypatch.setitem(STRATEGIES, "peek_confidence", _PeekConfidence)
    settings, rows = settings_for(shared_data(PF_5M), "peek_confidence")
    rows = list(rows)
    with pytest.raises(LookaheadError) as ei:
        check_lookahead(settings, rows)
    err = ei.value
    assert err.field == "confidence" and err.strategy == "peek_confidence"
    assert (err.full, err.truncated) == (0.9, 0.5)
    j = err.bar
    assert rows[j + 1][4] > rows[j][4]  # the first 10th bar followed by a higher close


def test_cli_flag_passes_and_reports(shared_data, capsys):
    path = shared_data(PF_5M)
    code = main(["backtest", "--candles", str(path), "--symbol", "PF_XBTUSD", "--strategy", "sma_cross",
                 "--lookahead-check", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lookahead_check"]["passed"] is True
    assert doc["lookahead_check"]["signals"] == doc["signals"]


def test_cli_flag_fails_loudly_with_exit_1(shared_data, capsys, monkeypatch):
    monkeypatch.setitem(STRATEGIES, "peek_next", _PeekNextClose)
    path = shared_data(PF_5M)
    code = main(["backtest", "--candles", str(path), "--symbol", "PF_XBTUSD", "--strategy", "peek_next",
                 "--lookahead-check"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""  # no report: the run never starts
    assert "look-ahead: bar " in captured.err and "strategy peek_next, field signal" in captured.err
