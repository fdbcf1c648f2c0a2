"""Guard-initiated closes carry their own exit reasons: the basis guard's close is ``basis_guard`` and the
equity floor's flatten ``equity_floor`` (not ``manual`` / ``flatten``), from the guard's action through the
close's purpose to the journal's trade and the trades CSV; an exchange liquidation stays ``liquidation``.
"""

from __future__ import annotations

from kraken_tui.domain import FillType
from kraken_tui.engine.execution import intent_purpose
from kraken_tui.engine.exits import ExitReason
from kraken_tui.engine.guards import BasisGuard, ClosePosition, GuardApplier
from kraken_tui.journal.export import trade_csv_row
from kraken_tui.journal.records import FlattenSource, IntentPurpose, flatten_close_tag
from kraken_tui.journal.trades import IntentInfo, derive_trades
from tests.journal.factory import fill

XBT = "PF_XBTUSD"


def _exit_reason(close_cli: str | None, purpose: str | None, fill_type: FillType = FillType.TAKER) -> tuple[str, ...]:
    fills = [fill("f1", XBT, "buy", "0.2", "50000", 1000, cli="e1"),
             fill("f2", XBT, "sell", "0.2", "49000", 2000, cli=close_cli, fill_type=fill_type)]
    intents = {"e1": IntentInfo("entry", "buy", None)}
    if close_cli is not None and purpose is not None:
        intents[close_cli] = IntentInfo(purpose, "sell", None)
    (trade,) = derive_trades(fills, intents=intents).closed
    return trade.exit_reason, trade_csv_row(trade)[-1]


def test_basis_guard_close_names_its_own_exit_reason():
    g = BasisGuard(50, "close")
    acts = g.check(XBT, 100_600, 100_000, held=True)
    (close,) = [a for a in acts if isinstance(a, ClosePosition)]
    assert close.exit_reason == "basis_guard" and close.reason.startswith("basis guard:")
    # the applier hands the exit reason to the engine's close
    seen: list[tuple[str, str, str]] = []
    applier = GuardApplier(None, None, None, lambda _r: None)  # type: ignore[arg-type]
    applier.close_position = lambda *a: seen.append(a)
    applier.apply([close])
    assert seen == [(XBT, close.reason, "basis_guard")]
    # the close order's purpose (journaled intent) and the trade's exit reason, in the journal and the CSV
    assert intent_purpose(ExitReason(close.exit_reason).value) is IntentPurpose.BASIS_GUARD
    assert _exit_reason("kt-run-PF_XBTUSD-1-basis_guard", "basis_guard") == ("basis_guard", "basis_guard")


def test_equity_floor_flatten_names_its_own_exit_reason():
    floor = f"{flatten_close_tag(FlattenSource.FLOOR, 17)}-r1-{XBT}"
    assert _exit_reason(floor, "flatten") == ("equity_floor", "equity_floor")
    assert _exit_reason(floor, None) == ("equity_floor", "equity_floor")  # no journaled intent (another run)
    # the operator's flatten stays a flatten
    key = f"{flatten_close_tag(FlattenSource.KEY, 17)}-r1-{XBT}"
    assert _exit_reason(key, "flatten") == ("flatten", "flatten")


def test_an_exchange_liquidation_stays_liquidation():
    assert _exit_reason("liq", None, FillType.LIQUIDATION)[0] == "liquidation"
