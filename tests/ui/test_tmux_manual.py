"""The real console in tmux at 120x40, in live mode against a local ``kraken-tui sim`` (the paper exchange on
loopback, synthetic market): a position opened from the ``:`` command line, its stop moved to breakeven, half of it
closed with the row cursor, then the rest; the exchange's positions and orders are read over its REST API after
each step, and the journal holds the trade closed with reason ``manual`` through two manual closes of half the size
each. Skips without tmux."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import ROUND_FLOOR, Decimal

import pytest

from tests.ui.test_tmux_console import _wait_for
from tests.ui.test_tmux_ctl_flatten import START_S, SYMBOL, LiveConsole, Sim, _cli, _env, long_row_shown
from tests.ui.test_tmux_ctl_flatten import pytestmark as pytestmark

D = Decimal


@pytest.fixture
def sim(tmp_path):
    s = Sim(tmp_path / "sim")
    yield s
    s.close()


def _account(sim) -> tuple[Decimal, Decimal | None, list]:
    positions, orders = sim.account()
    p = next((p for p in positions if p.symbol == SYMBOL), None)
    return (p.signed_size if p else D(0)), (p.entry_price if p else None), orders


def _until(cond, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while True:
        got = cond()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def _confirm(con) -> None:
    _wait_for(con.capture, "y = send", timeout=20)
    time.sleep(0.3)  # a deliberate key, on its own
    con.keys("y")


def _type(con, *keys: str, text: str | None = None) -> None:
    for k in keys:
        con.keys(k)
        time.sleep(0.3)
    if text is not None:
        con.keys("-l", text)  # one write: typed into the text box
        time.sleep(0.3)
        con.keys("Enter")


def test_open_from_the_command_line_breakeven_close_half_then_the_rest(sim, tmp_path):
    home = tmp_path / "console"
    con = LiveConsole(sim, home)
    try:
        _wait_for(con.capture, "Type LIVE and press Enter", timeout=START_S)
        con.keys("-l", "LIVE")
        time.sleep(0.3)
        con.keys("Enter")
        _wait_for(con.capture, "no open positions", timeout=START_S)
        _until(lambda: json.loads(_cli(_env(home), "ctl", "status", "--json").stdout or "{}").get("state")
               == "RUNNING", 30)

        _type(con, ":", text="buy pf_xbtusd 0.002 mkt")
        _confirm(con)
        assert _until(lambda: _account(sim)[0] == D("0.002"), 20), con.capture()
        assert _until(lambda: any(o.order_type in ("stp", "stop") for o in _account(sim)[2]), 20)
        assert _until(lambda: long_row_shown(con.capture(), "0.002"), 20), con.capture()

        # breakeven needs the mark above the entry (a long's stop rests below the market)
        def above() -> bool:
            st = json.loads(_cli(_env(home), "ctl", "status", "--json").stdout)
            p = st["positions"][0]
            return p["mark_price"] is not None and D(str(p["mark_price"])) > D(str(p["entry_price"])) + 5

        assert _until(above, 240), "the synthetic market never rose above the entry"
        _type(con, "Down", "s", text="be")
        _confirm(con)
        entry = _account(sim)[1]
        assert entry is not None
        be = entry.to_integral_value(rounding=ROUND_FLOOR)  # PF_XBTUSD tick 1, a long's stop rounds down
        assert _until(lambda: [o.stop_price for o in _account(sim)[2] if o.order_type in ("stp", "stop")] == [be], 20)

        _type(con, "h", text="50%")
        _confirm(con)
        assert _until(lambda: _account(sim)[0] == D("0.001"), 20), con.capture()
        assert _until(lambda: long_row_shown(con.capture(), "0.001"), 20), con.capture()

        _type(con, "c")
        _confirm(con)
        assert _until(lambda: _account(sim)[0] == 0 and not _account(sim)[2], 20), _account(sim)
        screen = _wait_for(con.capture, "no open positions", timeout=20)
        assert "Traceback" not in screen
    finally:
        con.close()
    trades = _cli(_env(home), "journal", "trades", "--json", "--journal", str(con.journal))
    assert trades.returncode == 0, trades.stderr
    rows = json.loads(trades.stdout)
    assert [(r["exit_reason"], D(str(r["size"]))) for r in rows] == [("manual", D("0.002"))], rows
    conn = sqlite3.connect(con.journal)
    try:
        closes = conn.execute("SELECT size FROM intents WHERE purpose = 'manual' ORDER BY ts_ms").fetchall()
    finally:
        conn.close()
    assert [D(c[0]) for c in closes] == [D("0.001"), D("0.001")]
