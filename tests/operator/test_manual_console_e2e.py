"""The console's row actions and ``:`` command line end to end: a real Engine against the paper exchange served over
loopback (tests/operator/engine_env.py), driven by keys through Pilot; after every action the exchange's own
positions and orders are checked. The scenario: open a position from the command line, move its stop to
breakeven, close half with the cursor, close the rest; the journal's trade closes with reason ``manual`` through
two manual closes of the right sizes. Then an order is edited and cancelled from the Orders table."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.journal.queries import load_trades
from kraken_tui.ui.app import KrakenApp
from kraken_tui.ui.screens.dashboard import DashboardScreen
from kraken_tui.ui.screens.order_confirm import OrderConfirmScreen
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote
from tests.ui.test_row_actions import prompt_ready
from tests.ui.test_safe_keys import _key

from .engine_env import engine_run, served
from .lossy import T0

D = Decimal
SIZE = (120, 40)


def _pos(ex) -> Decimal:
    p = ex.positions.get("PF_XBTUSD")
    return p.size if p is not None else D(0)


def _stops(ex) -> list[tuple[Decimal, Decimal]]:
    return [(o.size, o.stop_price) for o in ex.open_orders.values() if o.order_type == "stp"]


async def _press(pilot, *keys: str) -> None:
    """Keys pressed one at a time; a prompt that opens gets its text box focused before the next key (a person
    sees the box before typing into it)."""
    for k in keys:
        was_dashboard = isinstance(pilot.app.screen, DashboardScreen)
        _key(pilot.app, "space" if k == " " else k)
        await pilot.pause(0.03)
        await prompt_ready(pilot, k, was_dashboard)
    await pilot.pause()


async def _send(pilot, eng) -> None:
    """Answer the confirmation with y and wait for the order work."""
    assert isinstance(pilot.app.screen, OrderConfirmScreen), [n.message for n in pilot.app._notifications]
    await _press(pilot, "y")
    await pilot.app.workers.wait_for_complete()
    await asyncio.sleep(0.2)
    await eng.wait_idle()
    pilot.app.refresh_now()
    await pilot.pause()
    assert isinstance(pilot.app.screen, DashboardScreen)
    assert pilot.app.rows.results[-1].ok, pilot.app.rows.results[-1]


async def test_console_opens_moves_stop_closes_half_then_the_rest(tmp_path):
    journal = tmp_path / "journal.sqlite"
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await asyncio.sleep(0.2)
        await eng.wait_idle()
        app = KrakenApp(eng, Config(), log_file=tmp_path / "console.log", export_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, "colon", *"buy pf_xbtusd 0.02 mkt", "enter")
            await _send(pilot, eng)
            assert _pos(ex) == D("0.02") and _stops(ex) == [(D("0.02"), D(49_009))]

            quote(ex, T0 + 1000, bid=50_490, ask=50_510, mark=50_500)
            await wait_for(lambda: eng.market.mark_price("PF_XBTUSD") == 50_500, 5)
            app.refresh_now()
            await _press(pilot, "down", "s", "b", "e", "enter")
            await _send(pilot, eng)
            assert _stops(ex) == [(D("0.02"), D(50_010))]  # breakeven: the entry price

            await _press(pilot, "h", "5", "0", "%", "enter")
            await _send(pilot, eng)
            assert _pos(ex) == D("0.01") and _stops(ex) == [(D("0.01"), D(50_010))]

            await _press(pilot, "c")
            await _send(pilot, eng)
            assert _pos(ex) == 0
            await wait_for(lambda: not ex.open_orders, 5)  # the protective orders went with the position

            # an order from the Orders table: a resting limit, edited, then cancelled
            await _press(pilot, "colon", *"buy pf_xbtusd 0.01 lmt 40000 noexits", "enter")
            await _send(pilot, eng)
            ((oid, o),) = ex.open_orders.items()
            assert o.limit_price == D(40_000)
            await _press(pilot, "right", "m", *"41000.4", "enter")
            await _send(pilot, eng)
            assert ex.open_orders[oid].limit_price == D(41_000)  # rounded to the 1 USD tick
            await _press(pilot, "x")
            await _send(pilot, eng)
            assert not ex.open_orders and _pos(ex) == 0
        await eng.journal.flush()
    closes = rows(journal, "SELECT size FROM intents WHERE purpose = 'manual' ORDER BY ts_ms")
    assert [D(c[0]) for c in closes] == [D("0.01"), D("0.01")]
    conn = sqlite3.connect(journal)
    try:
        trades, _eq = load_trades(conn)
    finally:
        conn.close()
    assert [(t.exit_reason, t.size) for t in trades.closed] == [("manual", D("0.02"))]
    sources = {s for (s,) in rows(journal, "SELECT source FROM events WHERE kind = 'operator' AND name LIKE 'manual%'")}
    assert sources == {"key"}


def _orders(ex) -> list[tuple]:
    return sorted(((o.order_type, o.side.value, o.size, o.stop_price, o.limit_price, o.reduce_only)
                   for o in ex.open_orders.values() if o.symbol == "PF_XBTUSD"), key=str)


def _record_notes(app) -> list[str]:
    """Every notification the console shows from now on, in order (its own list drops the expired ones)."""
    said: list[str] = []
    notify = app.notify

    def record(message, *args, **kwargs):
        said.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = record
    return said


async def _refused(pilot, eng, ex, keys: tuple[str, ...], words: str) -> None:
    """``keys`` end in a refusal naming ``words`` on screen; nothing reaches the exchange."""
    app = pilot.app
    before, sent = (_pos(ex), _orders(ex)), eng.executor.sent
    n = len(app.said)
    await _press(pilot, *keys)
    await app.workers.wait_for_complete()
    await eng.wait_idle()
    assert isinstance(app.screen, DashboardScreen), app.screen
    new = "\n".join(app.said[n:])
    assert words in new, (keys, new)
    assert eng.executor.sent == sent and (_pos(ex), _orders(ex)) == before, keys


async def test_console_paused_take_profits_reprotect_stop_price_and_refusals(tmp_path):
    from kraken_tui.engine.operator import OperatorState

    journal = tmp_path / "journal.sqlite"
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await asyncio.sleep(0.2)
        await eng.wait_idle()
        app = KrakenApp(eng, Config(), log_file=tmp_path / "console.log", export_dir=tmp_path)
        app.said = _record_notes(app)
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, "p")  # entries paused: a manual order is the operator's decision
            assert eng.sm.state is OperatorState.PAUSED
            await _press(pilot, "colon", *"buy pf_xbtusd 0.02 mkt", "enter")
            await _send(pilot, eng)
            await wait_for(lambda: len(_orders(ex)) > 1, 5)
            tps = [o for o in _orders(ex) if o[0] == "lmt"]
            assert _pos(ex) == D("0.02") and tps and all(o[5] for o in tps), _orders(ex)

            await _press(pilot, "down", "t")  # cancel its take-profits
            await _send(pilot, eng)
            assert [o[0] for o in _orders(ex)] == ["stp"]
            await _press(pilot, "o")  # re-place its protection
            await _send(pilot, eng)
            await wait_for(lambda: [o for o in _orders(ex) if o[0] == "lmt"] == tps, 5)
            await _press(pilot, "s", *"49500", "enter")  # the stop to a price
            await _send(pilot, eng)
            assert [o[3] for o in _orders(ex) if o[0] == "stp"] == [D(49_500)]

            # bad input: a sentence on screen, nothing sent, the exchange unchanged
            await _refused(pilot, eng, ex, ("colon", *"buy pf_nopeusd 1", "enter"), "unknown symbol 'PF_NOPEUSD'")
            await _refused(pilot, eng, ex, ("colon", *"buy pf_xbtusd 0.00001", "enter"), "under the lot")
            await _refused(pilot, eng, ex, ("h", *"5", "enter"), "above the PF_XBTUSD position")
            await _refused(pilot, eng, ex, ("s", *"51000", "enter"), "must be below the market")
            await _refused(pilot, eng, ex, ("colon", *"buy pf_xbtusd 0.01 stp 49000", "enter"),
                           "triggers above the market")
            await _refused(pilot, eng, ex, ("colon", *"buy pf_xbtusd lots", "enter"), "word 3 'lots'")

            # the position closed behind the console's back: the cursor's row is stale, the close is refused
            ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.02"})
            await wait_for(lambda: eng.account.signed_size("PF_XBTUSD") == 0 and not ex.open_orders, 5)
            await asyncio.sleep(0.3)  # the engine's own clean-up of the orphaned protection is done
            await eng.wait_idle()
            await _refused(pilot, eng, ex, ("c",), "closed meanwhile")

            # HALTED: every manual order is refused
            eng.sm.halt("test halt")
            await _refused(pilot, eng, ex, ("colon", *"buy pf_xbtusd 0.01 mkt", "enter"), "HALTED")
