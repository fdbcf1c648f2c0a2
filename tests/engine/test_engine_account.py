"""AccountTracker: average-cost position math (hand-computed), duplicates, reversal; operator state restore."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.domain import Fill, FillType, PositionSide, Side
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.operator import OperatorState
from kraken_tui.journal.records import RunStarted, StateChange
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.runtime import last_operator_state

D = Decimal


def _fill(fid, side, size, price, ts=1, fee="0.1"):
    return Fill(fid, "o", "PF_ETHUSD", side, D(size), D(price), ts, FillType.TAKER, f"c-{fid}", D(fee), "USD")


def test_position_average_entry_realised_pnl_and_reversal():
    a = AccountTracker()
    assert a.apply_fill(_fill("1", Side.BUY, "2", "3000")).new
    a.apply_fill(_fill("2", Side.BUY, "1", "3030"))
    p = a.positions["PF_ETHUSD"]
    assert (p.side, p.size, p.entry_price) == (PositionSide.LONG, D(3), D(3010))  # (2*3000 + 3030) / 3
    out = a.apply_fill(_fill("3", Side.SELL, "1", "3040"))
    assert out.realized_usd == D(30) and not out.closed  # 1 x (3040 - 3010)
    out = a.apply_fill(_fill("4", Side.SELL, "3", "3000"))  # closes 2 (loss 2 x 10), opens a 1 short at 3000
    assert out.realized_usd == D(-20) and out.closed and out.after == D(-1)
    p = a.positions["PF_ETHUSD"]
    assert (p.side, p.size, p.entry_price) == (PositionSide.SHORT, D(1), D(3000))
    assert a.realized_today_usd == D(10) and a.fees_today_usd == D("0.4")
    assert a.cli_filled["c-4"] == D(3)


def test_duplicate_fill_is_booked_once_and_flat_removes_position():
    a = AccountTracker()
    a.apply_fill(_fill("1", Side.SELL, "1.5", "2500"))
    assert not a.apply_fill(_fill("1", Side.SELL, "1.5", "2500")).new
    assert a.signed_size("PF_ETHUSD") == D("-1.5")
    out = a.apply_fill(_fill("2", Side.BUY, "1.5", "2400"))
    assert out.realized_usd == D(150) and out.closed  # short 1.5 from 2500 to 2400
    assert "PF_ETHUSD" not in a.positions


def test_day_rollover_resets_today_sums():
    a = AccountTracker()
    assert a.roll_day(86_400_000 + 5)
    a.apply_fill(_fill("1", Side.BUY, "1", "100"))
    assert not a.roll_day(86_400_000 + 10)
    assert a.roll_day(2 * 86_400_000)
    assert a.fees_today_usd == 0 and a.fills_today == 0


def test_last_operator_state_is_restored_from_the_journal(tmp_path):
    path = tmp_path / "j.sqlite"
    assert last_operator_state(path) is None

    async def write():
        w = JournalWriter(path)
        await w.start()
        await w.write(RunStarted("r1", 1, "paper", "h", "v"))
        await w.write(StateChange(10, "FLATTENING", "operator flatten", "key", "RUNNING"))
        await w.write(StateChange(5, "HALTED", "flattened: account verified flat", "automatic", "FLATTENING"))
        await w.close()

    asyncio.run(write())
    # The newest record by insertion wins, whatever its (data-clock) timestamp.
    assert last_operator_state(path) == (OperatorState.HALTED, "flattened: account verified flat")
