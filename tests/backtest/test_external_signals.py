"""A timestamped external signal file in a backtest: merged by time, never delivered before its time."""

from __future__ import annotations

import json

from kraken_tui.cli import main

from ._util import PF_1M, run_rows, settings_for

T0 = 1756561260_000  # the first bar of the 1-minute file opens here (UTC ms)
MIN = 60_000


def _write(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "not json\n")


def test_signal_file_is_merged_by_time_without_look_ahead(shared_data, tmp_path):
    sig = tmp_path / "signals.jsonl"
    # long at bar 30 (mid-bar: 30 min + 20 s), flat at bar 90, short at bar 150, flat at 200, a bad line
    _write(sig, [
        {"ts_ms": T0 + 30 * MIN + 20_000, "symbol": "PF_XBTUSD", "side": "long", "confidence": 0.9},
        {"ts_ms": T0 + 90 * MIN, "symbol": "PF_XBTUSD", "side": "flat", "confidence": 1.0},
        {"ts_ms": T0 + 150 * MIN, "symbol": "PF_XBTUSD", "side": "short", "confidence": 0.8},
        {"ts_ms": T0 + 200 * MIN, "symbol": "PF_XBTUSD", "side": "flat", "confidence": 1.0},
    ])
    s, rows = settings_for(shared_data(PF_1M), "external", {"path": str(sig)})
    res, _, trades = run_rows(s, list(rows)[:300])
    assert res.signals == 4
    assert [t.side.value for t in trades] == ["long", "short"]
    assert trades[0].entry_ts_ms == T0 + 31 * MIN
    # the long was known 20 s into the bar opening at 30 min: decided at its close (31 min), filled at the
    # next open (31 min); never at the close of the bar it arrived in before that bar ended
    # flat at exactly 90 min = the close of the bar opening at 89: filled at the open at 90 min
    assert trades[0].exit_ts_ms == T0 + 90 * MIN
    assert trades[1].entry_ts_ms == T0 + 150 * MIN
    assert any("external signals: 4 from" in n and "(1 bad lines)" in n for n in res.notes)


def test_backtest_strategy_external_reads_the_config_signal_file(shared_data, tmp_path, capsys):
    sig = tmp_path / "signals.jsonl"
    _write(sig, [{"ts_ms": T0 + 10 * MIN, "symbol": "PF_XBTUSD", "side": "short", "confidence": 1.0},
                 {"ts_ms": T0 + 60 * MIN, "symbol": "PF_XBTUSD", "side": "flat", "confidence": 1.0}])
    conf = tmp_path / "c.toml"
    conf.write_text(f'[external]\nsignal_file = "{sig}"\n')
    assert main(["backtest", "--config", str(conf), "--candles", str(shared_data(PF_1M)), "--strategy", "external",
                 "--to", "2025-08-30T15:00:00Z", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["signals"] == 2 and doc["trades"] == 1


def _csv(path, closes, t0_s=1_756_561_260):
    rows = ["time,open,high,low,close,volume"]
    rows += [f"{t0_s + 60 * i},{c},{c},{c},{c},1" for i, c in enumerate(closes)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_index_series_runs_the_basis_guard_before_and_after_entry(tmp_path):
    from kraken_tui.config import RiskConfig

    trade = _csv(tmp_path / "trade.csv", [100.0] * 300)
    index = {T0 + i * MIN: (100.0 if i < 100 else 98.9) for i in range(300)}  # basis 111 bps from bar 100
    sig = tmp_path / "signals.jsonl"
    _write(sig, [{"ts_ms": T0 + 10 * MIN, "symbol": "PF_XBTUSD", "side": "long", "confidence": 1.0},
                 {"ts_ms": T0 + 150 * MIN, "symbol": "PF_XBTUSD", "side": "flat", "confidence": 1.0},
                 {"ts_ms": T0 + 160 * MIN, "symbol": "PF_XBTUSD", "side": "long", "confidence": 1.0}])
    s, rows = settings_for(trade, "external", {"path": str(sig)},
                           risk=RiskConfig(cost_atr_multiple=0, basis_action="close"))
    s.index_closes = index
    res, _, trades = run_rows(s, list(rows))
    # entered at 10 min; the bar ending 101 min shows the basis beyond 50 bps: closed at the next open
    assert [(t.entry_ts_ms - T0) // MIN for t in trades] == [10]
    assert [(t.exit_ts_ms - T0) // MIN for t in trades] == [101]
    assert [t.exit_reason for t in trades] == ["basis_guard"]  # its own reason, not "manual"
    assert any("basis 111.2 bps beyond 50: close" in n for n in res.notes)
    assert res.rejected == 1  # the second long: the basis guard before entry
    # without the index series the close is mark and index: nothing happens
    s2, rows2 = settings_for(trade, "external", {"path": str(sig)}, risk=RiskConfig(cost_atr_multiple=0))
    res2, _, trades2 = run_rows(s2, list(rows2))
    assert [(t.exit_ts_ms - T0) // MIN for t in trades2] == [150]


def test_ensemble_report_says_which_slots_have_a_source_and_feeds_the_timeframes(shared_data, tmp_path):
    from kraken_tui.backtest.runner import Backtest

    from ._util import PF_5M

    # no signal file: the ML slot has no source, its weight goes to technical, patterns and mtf
    s, rows = settings_for(shared_data(PF_5M), "ensemble", {})
    bt = Backtest(s)
    bt.run(rows)
    res = bt.finish()
    assert ("ensemble slots: technical 50%, patterns 33%, mtf 17%; no source for ml: weight redistributed; "
            "entries at confidence >= 0.7") in res.notes
    # 500 5m bars (41 hours): the 15m and 1h trend/momentum are known, the 4h EMA(20) not yet
    assert set(bt.strategy.state("PF_XBTUSD").mtf.per_tf) == {"15m", "1h"}
    # with a signal file the ML slot is live: 0.4, 0.3, 0.1 over 0.8
    sig = tmp_path / "signals.jsonl"
    _write(sig, [{"ts_ms": T0, "symbol": "PF_XBTUSD", "side": "long", "confidence": 0.9}])
    s, rows = settings_for(shared_data(PF_5M), "ensemble", {"external": {"path": str(sig)}})
    res = Backtest(s).run(list(rows)[:10])
    assert any(n.startswith("ensemble slots: ml 40%, technical 30%, patterns 20%, mtf 10%; entries") for n in res.notes), \
        res.notes
