"""The paper account file (``paper.store``): a round trip of every part of the account, one process at a time,
and a foreign file refused."""

from __future__ import annotations

import os
import sqlite3
import stat
from decimal import Decimal

import pytest

from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.sources.base import FundingEvent, MarketTick
from kraken_tui.paper.store import PaperAccountBusy, PaperAccountStore, StoreError

H0 = 1_704_067_200_000
SYM = "PF_XBTUSD"


def _tick(ts: int, price: float = 50_000.0) -> MarketTick:
    return MarketTick(SYM, ts, last=price, bid=price - 0.5, ask=price + 0.5, bid_size=1e6, ask_size=1e6,
                      mark_price=price, index_price=price)


def _state(ex: PaperExchange) -> tuple:
    return (dict(ex.balances.quantities), {s: (p.size, p.entry_price) for s, p in ex.positions.items()},
            {i: (o.order_type, o.stop_price, o.reduce_only, o.trigger_signal) for i, o in ex.open_orders.items()},
            [f.fill_id for f in ex.fills], [e.id for e in ex.account_log], ex.log_seq, ex.now_ms,
            ex.funded_hour_ms, ex.markets[SYM].funding_rates, ex.markets[SYM].mark, ex.dms_trigger_ms)


def test_round_trip_of_the_account(tmp_path):
    path = tmp_path / "acct.sqlite"
    store = PaperAccountStore(path)
    store.open()
    ex = PaperExchange()
    assert store.load(ex) is False
    ex.apply_event(FundingEvent(SYM, H0, 0.0002))
    ex.apply_event(_tick(H0 + 60_000))
    assert ex.send_order({"orderType": "mkt", "symbol": SYM, "side": "buy", "size": "0.02"}).status == "placed"
    ex.send_order({"orderType": "stp", "symbol": SYM, "side": "sell", "size": "0.02", "stopPrice": "45000",
                   "reduceOnly": "true", "triggerSignal": "last"})
    ex.send_order({"orderType": "lmt", "symbol": SYM, "side": "buy", "size": "0.01", "limitPrice": "40000"})
    ex.cancel_all_after(600)
    ex.apply_event(_tick(H0 + 3_600_000 + 60_000))  # funding booked
    before = _state(ex)
    store.close()

    again = PaperAccountStore(path)
    again.open()
    ex2 = PaperExchange()
    assert again.load(ex2) is True
    assert _state(ex2) == before
    assert any(e.info == "funding rate change" for e in ex2.account_log)
    assert ex2.balances.quantities["usd"] < Decimal(10_000)
    again.close()


def test_one_process_at_a_time_and_fresh(tmp_path):
    path = tmp_path / "acct.sqlite"
    a = PaperAccountStore(path)
    a.open()
    ex = PaperExchange()
    a.load(ex)
    ex.apply_event(_tick(H0))
    ex.send_order({"orderType": "mkt", "symbol": SYM, "side": "buy", "size": "0.01"})
    with pytest.raises(PaperAccountBusy):
        PaperAccountStore(path).open()
    a.close()
    b = PaperAccountStore(path)
    b.open(fresh=True)
    ex2 = PaperExchange()
    assert b.load(ex2) is False and not ex2.positions
    b.close()


def test_the_account_file_is_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        store = PaperAccountStore(tmp_path / "acct.sqlite")
        store.open()
        ex = PaperExchange()
        store.load(ex)
        ex.apply_event(_tick(H0))
        store.flush()
        store.close()
    finally:
        os.umask(old)
    files = list(tmp_path.iterdir())
    assert any(p.name == "acct.sqlite" for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a kraken-tui paper-account file"):
        PaperAccountStore(path).open()
