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
