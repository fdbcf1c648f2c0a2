"""Checking the journal's money totals against the exchange's own account log (spec §4.18).

Owns: the three totals both sides must agree on (realised P&L, fees, funding, all USD) and the
comparison. Used by tests (a paper run's journal must equal the paper exchange's account log) and by
reconciliation tooling.
Account-log side (``domain.AccountLogEntry``, spec §4.18): only USD cash legs count (``asset`` "usd";
the position-size legs carry the contract as asset);
- realised P&L = sum of ``realized_pnl`` (trade, liquidation, assignment rows);
- fees = sum of ``fee`` plus ``liquidation_fee`` (Kraken books the liquidation fee separately);
- funding = sum of ``realized_funding`` of ``funding rate change`` rows (+ received).
Journal side: ``TradeSet.realized_pnl_usd`` (average-cost realised P&L of every reducing fill),
``TradeSet.fees_usd`` (every fill fee) and ``TradeSet.funding_usd`` (every funding payment).
Inverse (PI_) contracts settle in their coin: with ``currency="xbt"`` the account log's ``xbt`` legs are
compared with ``TradeSet.coin["xbt"]`` (the same three totals, in XBT), to the satoshi (1e-8) by default.
Must not import: sqlite3, aiosqlite, textual, the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import ZERO, AccountLogEntry
from kraken_tui.journal.trades import TradeSet

__all__ = ["LedgerComparison", "LedgerTotals", "account_log_totals", "compare_with_account_log", "journal_totals"]

FUNDING_INFO = "funding rate change"


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """Realised P&L, fees (paid > 0) and funding (+ received), all USD."""

    realized_pnl_usd: Decimal
    fees_usd: Decimal
    funding_usd: Decimal


@dataclass(frozen=True, slots=True)
class LedgerComparison:
    """Both sides' totals and, per total that differs by more than the tolerance, a message."""

    journal: LedgerTotals
    exchange: LedgerTotals
    differences: tuple[str, ...]

    @property
    def matches(self) -> bool:
        """True when every total agrees within the tolerance."""
        return not self.differences


def journal_totals(trades: TradeSet, currency: str = "usd") -> LedgerTotals:
    """The journal's totals in ``currency`` (``usd``, or an inverse contract's coin such as ``xbt``; the
    fields keep their ``_usd`` names and then hold that coin). See the module docstring."""
    if currency != "usd":
        return LedgerTotals(*trades.coin.get(currency, (ZERO, ZERO, ZERO)))
    return LedgerTotals(trades.realized_pnl_usd, trades.fees_usd, trades.funding_usd)


def account_log_totals(entries: Iterable[AccountLogEntry], currency: str = "usd") -> LedgerTotals:
    """The account log's totals of the ``currency`` legs (see the module docstring)."""
    pnl = fees = funding = ZERO
    for e in entries:
        if e.asset.lower() != currency:
            continue
        if e.info == FUNDING_INFO:
            funding += e.realized_funding or ZERO
            continue
        pnl += e.realized_pnl or ZERO
        fees += (e.fee or ZERO) + (e.liquidation_fee or ZERO)
    return LedgerTotals(pnl, fees, funding)


def compare_with_account_log(
    trades: TradeSet, entries: Iterable[AccountLogEntry], *, tolerance_usd: Decimal = Decimal("1e-8"),
    currency: str = "usd",
) -> LedgerComparison:
    """Compare journal and account-log totals in ``currency``; a difference above ``tolerance_usd`` (in that
    currency) is reported as ``"<total>: journal X, account log Y (diff Z)"``."""
    j = journal_totals(trades, currency)
    x = account_log_totals(entries, currency)
    diffs = []
    for name in ("realized_pnl_usd", "fees_usd", "funding_usd"):
        a, b = getattr(j, name), getattr(x, name)
        if abs(a - b) > tolerance_usd:
            diffs.append(f"{name}: journal {a}, account log {b} (diff {a - b})")
    return LedgerComparison(j, x, tuple(diffs))
