"""``kraken-tui backtest`` through ``cli.main``: output keys, trades CSV, journal, errors and exit codes."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kraken_tui.cli import main
from kraken_tui.journal.export import TRADES_CSV_HEADER

from ._util import FUNDING, PF_1M, PF_5M, SPOT_1H

CONTRACT_KEYS = {"trades", "wins", "losses", "win_rate", "net_pnl_usd", "gross_pnl_usd", "fees_usd", "funding_usd",
                 "max_drawdown_usd", "profit_factor", "sharpe", "candles", "elapsed_s", "candles_per_s"}


def _json(capsys, *argv) -> dict:
    assert main(["backtest", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_funding_and_trades_csv_sum_to_net(shared_data, capsys, tmp_path):
    out = tmp_path / "trades.csv"
    doc = _json(capsys, "--candles", str(shared_data(PF_1M)), "--funding", str(shared_data(FUNDING)),
                "--symbol", "PF_XBTUSD", "--strategy", "sma_cross", "--trades-csv", str(out))
    assert CONTRACT_KEYS <= doc.keys()
    assert doc["candles"] == 500 and doc["trades"] >= 10
    assert doc["funding_payments"] > 0 and doc["funding_usd"] != 0  # funding shows in the result
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == TRADES_CSV_HEADER
    assert len(rows) - 1 == doc["trades"]
    net = sum(Decimal(r[7]) for r in rows[1:])
    assert abs(float(net) - doc["net_pnl_usd"]) < 1e-6
    funding = sum(Decimal(r[9]) for r in rows[1:])
    assert abs(float(funding) - doc["funding_usd"]) < 1e-6


def test_frictionless_flags_give_zero_costs(shared_data, capsys):
    doc = _json(capsys, "--candles", str(shared_data(PF_1M)), "--strategy", "sma_cross", "--fees", "0,0",
                "--slippage-bps", "0", "--funding-rate", "0")
    assert doc["fees_usd"] == 0 and doc["funding_usd"] == 0 and doc["funding_payments"] == 0
    assert doc["net_pnl_usd"] == doc["gross_pnl_usd"]


def test_param_and_date_range(shared_data, capsys):
    doc = _json(capsys, "--candles", str(shared_data(SPOT_1H)), "--strategy", "sma_cross", "--param", "fast=5",
                "--param", "slow=50", "--from", "2020-01-01", "--to", "2020-07-01T00:00:00Z")
    assert doc["params"]["fast"] == 5 and doc["params"]["slow"] == 50
    assert doc["first_candle"] >= "2020-01-01" and doc["last_candle"] < "2020-07-01"
    assert 4000 < doc["candles"] < 4400  # about 182 days of hourly bars


def test_journal_summary_equals_backtest(shared_data, capsys, tmp_path):
    journal = tmp_path / "bt.sqlite"
    conf = tmp_path / "c.toml"
    conf.write_text("[risk]\ncost_atr_multiple = 0\n")  # the cost check on tp1: this quiet 1m file trades
    doc = _json(capsys, "--candles", str(shared_data(PF_1M)), "--funding", str(shared_data(FUNDING)),
                "--strategy", "ema_cross", "--param", "min_confidence=0.4", "--journal", str(journal),
                "--config", str(conf))
    assert main(["journal", "--journal", str(journal), "summary", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in CONTRACT_KEYS - {"candles", "elapsed_s", "candles_per_s"}:
        assert summary[key] == pytest.approx(doc[key], abs=1e-8), key
    assert doc["trades"] >= 3
    # a journal file holds one run: a second backtest into it is refused (exit 2, names the flag)
    assert main(["backtest", "--candles", str(shared_data(PF_1M)), "--journal", str(journal)]) == 2
    assert "--journal" in capsys.readouterr().err


def test_text_report_has_chart_and_statistics(shared_data, capsys):
    assert main(["backtest", "--candles", str(shared_data(PF_1M)), "--strategy", "sma_cross"]) == 0
    text = capsys.readouterr().out
    for part in ("trades ", "net P&L", "max drawdown", "equity USD", "drawdown from peak", "fingerprint sha256",
                 "candles/s", "funding   constant 1e-05 per hour (default"):
        assert part in text, part


@pytest.mark.parametrize("argv,needle", [
    (["--fees", "2"], "--fees"),
    (["--fees", "a,b"], "--fees"),
    (["--slippage-bps", "-1"], "--slippage-bps"),
    (["--param", "fast"], "--param"),
    (["--param", "fast=30"], "strategy.params.fast"),
    (["--param", "nope=1"], "strategy.params.nope"),
    (["--strategy", "nope"], "strategy.name"),
    (["--symbol", "XBTUSD"], "--symbol"),
    (["--from", "yesterday"], "--from"),
    (["--from", "2025-09-01", "--to", "2025-08-01"], "--to"),
    (["--funding-rate", "2"], "--funding-rate"),
    (["--from", "2030-01-01"], "no candles in the --from/--to range"),
])
def test_bad_flags_exit_2_naming_the_flag(shared_data, capsys, argv, needle):
    assert main(["backtest", "--candles", str(shared_data(PF_1M)), "--strategy", "sma_cross", *argv]) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize("content,needle", [
    ("time,open,high,low,close,volume\n1756561260,1,2,0.5,1,1\n1756561320,1,2,0.5,x,1\n", ":3: field 'close'"),
    ("time,open,high,low,close,volume\n1756561260,1,2,0.5,1,1\n1756561260,1,2,0.5,1,1\n", ":3: field 'time': duplicate"),
    ("1381093200,122.0,121.0,122.0,122.0,0.1,1\n", ":1: field 'high'"),
    ("1381093200,122.0,123.0,122.0,122.0,-1,1\n", ":1: field 'volume'"),
    ("1381093200,122.0,123.0,122.0,122.0,0.1\n1381096800,122.0,123.0\n", ":2: expected 6 columns"),
    ("time,open,close\n", ":1: header lacks column(s) high, low, volume"),
    ("hello\n", "unknown format"),
])
def test_malformed_candle_file_names_file_and_line(tmp_path, capsys, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["backtest", "--candles", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and needle in err


def test_missing_candle_file(tmp_path, capsys):
    assert main(["backtest", "--candles", str(tmp_path / "none.csv")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_pi_symbol_runs_and_reports_the_coin_and_usd(shared_data, capsys):
    argv = ["backtest", "--candles", str(shared_data(PF_1M)), "--symbol", "PI_XBTUSD", "--strategy", "sma_cross",
            "--funding", str(shared_data(FUNDING))]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["currency"] == "xbt" and doc["starting_balance_coin"] == 0.1 and doc["trades"] > 0
    assert doc["usd_rate"] > 0 and abs(doc["final_equity_usd"] - doc["final_equity_coin"] * doc["usd_rate"]) < 1e-6
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "XBT (inverse margin account): start 0.10000000 XBT" in text and "USD/XBT" in text


def _scaled(src, dst, factor):
    """A copy of the candle file ``src`` with prices x ``factor`` (an index series with a basis)."""
    lines = src.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        t, *ohlc, v = line.split(",")
        out.append(",".join([t, *(f"{float(x) * factor:.2f}" for x in ohlc), v]))
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_index_flag_takes_the_replay_grammar_and_runs_the_basis_guard(shared_data, capsys, tmp_path):
    trade = shared_data(PF_1M)
    base = ["--candles", str(trade), "--symbol", "PF_XBTUSD", "--strategy", "sma_cross"]
    free = _json(capsys, *base)
    assert free["trades"] >= 10 and "index_file" not in free
    # the same prices as index: basis 0, the same trades
    same = _json(capsys, *base, "--index", f"{trade}@PF_XBTUSD:index")
    assert same["trades"] == free["trades"] and same["index_bars"] == 500 and same["index_file"] == str(trade)
    # an index 2 % below the trade price: basis about 204 bps > max_basis_bps 50, every entry refused
    idx = _scaled(trade, tmp_path / "index.csv", 0.98)
    blown = _json(capsys, *base, "--index", f"{idx}@PF_XBTUSD:index")
    assert blown["trades"] == 0 and blown["rejected_entries"] >= free["trades"]
    assert _json(capsys, *base, "--index", str(idx))["trades"] == 0  # a bare PATH is the same
    # another symbol's index, or a suffix that is not ":index": exit 2 naming --index
    for bad in (f"{idx}@PF_ETHUSD:index", f"{idx}@PF_XBTUSD:trade", f"{idx}@PF_XBTUSD"):
        assert main(["backtest", *base, "--index", bad]) == 2
        err = capsys.readouterr().err
        assert "--index" in err and "PATH@PF_XBTUSD:index" in err, err
    # an index of another bar length, or with no bar in the range: exit 2 naming the index file
    assert main(["backtest", *base, "--index", str(shared_data(PF_5M))]) == 2
    assert "index bars of 5m, the candles are 1m (--index)" in capsys.readouterr().err
    late = tmp_path / "late.csv"
    lines = idx.read_text().splitlines()
    late.write_text("\n".join([lines[0], *lines[400:]]) + "\n")  # the last 100 bars only
    to = datetime.fromtimestamp(int(lines[200].split(",")[0]), UTC).isoformat()
    assert main(["backtest", *base, "--index", str(late), "--to", to]) == 2
    err = capsys.readouterr().err
    assert "late.csv: no candles in the --from/--to range" in err, err


def test_run_freezes_gc_only_while_it_runs(shared_data, capsys, monkeypatch):
    """The CLI runs the backtest with the objects alive before it frozen out of the collector's scans, and
    unfreezes them afterwards, also when the run raises (a long-lived caller keeps a normal collector)."""
    import gc

    from kraken_tui.backtest import runner

    seen: list[int] = []
    real_run = runner.Backtest.run

    def run(self, rows, limit=None):
        seen.append(gc.get_freeze_count())
        return real_run(self, rows, limit)

    monkeypatch.setattr(runner.Backtest, "run", run)
    before = gc.get_freeze_count()
    _json(capsys, "--candles", str(shared_data(PF_1M)), "--strategy", "sma_cross")
    assert seen and seen[0] > before  # frozen during the run
    assert gc.get_freeze_count() == before  # and unfrozen after it

    def boom(self, rows, limit=None):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(runner.Backtest, "run", boom)
    assert main(["backtest", "--candles", str(shared_data(PF_1M)), "--strategy", "sma_cross", "--json"]) != 0
    assert gc.get_freeze_count() == before


def test_candles_path_at_symbol_sets_the_symbol(shared_data, capsys):
    path = str(shared_data(SPOT_1H))
    doc = _json(capsys, "--candles", f"{path}@pf_ethusd", "--strategy", "sma_cross", "--to", "2015-01-01")
    same = _json(capsys, "--candles", path, "--symbol", "PF_ETHUSD", "--strategy", "sma_cross", "--to", "2015-01-01")
    assert doc["symbol"] == same["symbol"] == "PF_ETHUSD"
    assert doc["trades"] == same["trades"] > 0 and doc["net_pnl_usd"] == same["net_pnl_usd"]


def test_candles_symbol_and_a_different_symbol_flag_exit_2(shared_data, capsys):
    path = str(shared_data(SPOT_1H))
    assert main(["backtest", "--candles", f"{path}@PF_XBTUSD", "--symbol", "PF_ETHUSD"]) == 2
    assert "--symbol" in capsys.readouterr().err
