"""Closed round trips of a backtest, derived as the journal derives them.

Owns: the ``Trades`` mixin of ``Backtest``: ``_trade_closed`` (report each closed trade: fingerprint,
statistics row, loss streak, ``on_trade``) and ``_round_trip`` (one plain round trip computed with
``journal.trades.derive_trades``' operations; ``derive_trades`` itself for anything else).
tests/backtest/test_fastpaths.py checks equality against the journal. Must not import: textual.
"""

from __future__ import annotations

import itertools

from kraken_tui.domain import ZERO, FillType, PositionSide, Side
from kraken_tui.engine.operator import OperatorState
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.trades import Trade, derive_trades

from .settings import fingerprint_line, stats_row

__all__ = ["Trades"]




def _ts_of(p: FundingPayment) -> int:
    return p.ts_ms


_BUY = Side.BUY
_LONG, _SHORT = PositionSide.LONG, PositionSide.SHORT
# FillType.is_liquidation's members and the assignment types, compared by identity in the hot path
_LIQ, _PLIQ, _UNWIND = FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION, FillType.UNWIND_BANKRUPT
_ASSIGNOR, _ASSIGNEE = FillType.ASSIGNOR, FillType.ASSIGNEE

#: object.__new__, the slot setters of journal.trades.Trade in field order, and its __post_init__ (which sets
#: net_pnl_usd): ``_new_trade`` builds a Trade without the frozen dataclass's __init__ (same object; a test
#: checks equality with ``Trade(...)`` and that the field list is still this one).
_TRADE_FIELDS = ("symbol", "side", "size", "entry_ts_ms", "exit_ts_ms", "entry_price", "exit_price", "gross_pnl_usd",
                 "fees_usd", "funding_usd", "exit_reason", "signal_id", "strategy", "mae_usd", "mfe_usd",
                 "funding_paid_usd", "funding_received_usd", "net_pnl_usd")
_TRADE_NEW = (object.__new__, *(Trade.__dict__[f].__set__ for f in _TRADE_FIELDS[:-1]), Trade.__post_init__)


def _new_trade(symbol, side, size, entry_ts_ms, exit_ts_ms, entry_price, exit_price, gross_pnl_usd, fees_usd,
               funding_usd, exit_reason, signal_id, strategy, mae_usd, mfe_usd, funding_paid_usd=ZERO,
               funding_received_usd=ZERO) -> Trade:
    """``Trade(...)`` (same arguments, same object) without the frozen dataclass's __init__."""
    new, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, post = _TRADE_NEW
    t = new(Trade)
    s1(t, symbol)
    s2(t, side)
    s3(t, size)
    s4(t, entry_ts_ms)
    s5(t, exit_ts_ms)
    s6(t, entry_price)
    s7(t, exit_price)
    s8(t, gross_pnl_usd)
    s9(t, fees_usd)
    s10(t, funding_usd)
    s11(t, exit_reason)
    s12(t, signal_id)
    s13(t, strategy)
    s14(t, mae_usd)
    s15(t, mfe_usd)
    s16(t, funding_paid_usd)
    s17(t, funding_received_usd)
    post(t)
    return t



class Trades:
    """Round-trip derivation (a mixin of ``runner.Backtest``)."""

    def _trade_closed(self) -> None:
        """The position is back to zero: derive the round trip (``_round_trip``, or the journal's
        ``derive_trades`` when a fill crossed zero) and report it."""
        t1 = self._round_trip()
        if t1 is not None:
            closed = [t1]
        else:
            closed = derive_trades([self._fill_of(r) for r in self.cur_fills], intents=self.cur_intents,
                                   strategies=self.cur_strategies, funding=self.cur_funding).closed
        rows = self.result.rows
        for t in closed:
            self._hash.update(fingerprint_line(t))
            rows.append(stats_row(t))
            self.result.last_trades.append(t)
            self.consecutive_losses = self.consecutive_losses + 1 if t.net_pnl_usd < 0 else 0
            if self.on_trade is not None:
                self.on_trade(t)
        self.cur_fills = []
        self.cur_funding = []
        self.cur_intents = {}
        self.cur_strategies = {}
        self._cancel_resting()
        self.exits = None
        if self.op.state is OperatorState.FLATTENING:
            self.op.flatten_done("position closed at the open")

    def _round_trip(self) -> Trade | None:
        """The one closed trade of the current round trip, computed exactly as ``journal.trades.derive_trades``
        computes it (same Decimal operations in the same order: size-weighted prices, notional P&L, fees,
        MAE/MFE sampled at fill prices, funding paid/received between entry and exit, exit reason of the
        closing fill). None when the fills are not a plain round trip (a fill crossing zero, fills out of
        time order): the caller then runs ``derive_trades`` itself."""
        fills = self.cur_fills
        side0, size0, price0, ts0, _ft0, cli0, fee0, _ = fills[0]
        sign = 1 if side0 is _BUY else -1
        if len(fills) == 2:
            last = fills[1]
            side1, size1, price1, exit_ts, _ft, _cli, fee1, _ = last
            if side1 is not side0 and size1 == size0 and exit_ts >= ts0:
                # the common round trip, one fill in and one out: the loop below unrolled (same operations)
                cost = price0 * size0
                u = float(sign * (price1 * size0 - cost))
                low = u if u < 0.0 else 0.0
                high = u if u > 0.0 else 0.0
                fees = (fee0 if fee0 is not None else ZERO) + (fee1 if fee1 is not None else ZERO)
                return self._trade_of(side0 is _BUY, size0, ts0, exit_ts, cost, ZERO + price1 * size1, fees, low,
                                      high, cli0, last)
        pos = size0
        cost = price0 * size0
        entry_notional = cost
        entry_size = size0
        fees = fee0 if fee0 is not None else ZERO
        exit_notional = ZERO
        exit_ts = prev_ts = ts0
        low = high = 0.0
        last = fills[0]
        for f in itertools.islice(fills, 1, None):
            side, size, price, ts, _ft, _cli, fee, _ = f
            if ts < prev_ts or pos == 0:
                return None
            prev_ts = ts
            fee = fee if fee is not None else ZERO
            u = float(sign * (price * pos - cost))
            if u < low:
                low = u
            elif u > high:
                high = u
            if side is side0:  # same direction (Side has two members)
                pos += size
                cost += price * size
                entry_notional += price * size
                entry_size += size
                fees += fee
                continue
            close_q = min(size, pos)
            if size - close_q != 0:
                return None  # crosses zero: derive_trades splits it
            removed = cost if close_q == pos else cost * close_q / pos
            cost -= removed
            pos -= close_q
            exit_notional += price * close_q
            fees += fee
            exit_ts = ts
            last = f
        if pos != 0:
            return None
        return self._trade_of(sign > 0, entry_size, ts0, exit_ts, entry_notional, exit_notional, fees, low, high,
                              cli0, last)

    def _trade_of(self, long: bool, entry_size, ts0: int, exit_ts: int, entry_notional, exit_notional, fees,
                  low: float, high: float, cli0: str | None, last: tuple) -> Trade:
        """The closed ``Trade`` of a round trip from its sums (``journal.trades._finish``'s operations), its exit
        reason from the closing fill ``last`` and funding paid/received between entry and exit."""
        sign = 1 if long else -1
        intents = self.cur_intents
        info = intents.get(cli0) if cli0 else None
        signal_id = info.signal_id if info else None
        ft, cli = last[4], last[5]
        if ft is _LIQ or ft is _PLIQ or ft is _UNWIND:  # ft.is_liquidation
            reason = "liquidation"
        elif ft is _ASSIGNOR or ft is _ASSIGNEE:
            reason = "assignment"
        else:
            einfo = intents.get(cli) if cli else None
            reason = "external" if einfo is None else "reverse" if einfo.purpose in ("entry", "add") else einfo.purpose
        strategy = self.cur_strategies.get(signal_id) if signal_id else None
        side = _LONG if sign > 0 else _SHORT
        entry_price = entry_notional / entry_size
        exit_price = exit_notional / entry_size
        gross = sign * (exit_notional - entry_notional)
        cur_funding = self.cur_funding
        if cur_funding:
            pays = [p for p in sorted(cur_funding, key=_ts_of) if ts0 <= p.ts_ms <= exit_ts]
            if pays:
                amounts = [p.amount_usd for p in pays]
                received = sum((a for a in amounts if a > 0), ZERO)
                paid = -sum((a for a in amounts if a < 0), ZERO)
                return _new_trade(self.symbol, side, entry_size, ts0, exit_ts, entry_price, exit_price, gross, fees,
                                  received - paid, reason, signal_id, strategy, low, high, paid, received)
        return _new_trade(self.symbol, side, entry_size, ts0, exit_ts, entry_price, exit_price, gross, fees, ZERO,
                          reason, signal_id, strategy, low, high)

