"""Closed round trips of a backtest, derived as the journal derives them.

Owns: ``Trades``, the backtest's collaborator that reports closed round trips: ``trade_closed`` (derive the closed round trip and reset the
per-trade state), ``_round_trip``/``_trade_of`` (one plain round trip computed with
``journal.trades.derive_trades``' operations; ``derive_trades`` itself for anything else) and ``_report``
(fingerprint line, statistics row, loss streak, ``on_trade``), which works from the trade's values: a
``journal.trades.Trade`` object is built only for ``on_trade`` and for ``result.last_trades`` (the last ten,
at the end of each chunk). tests/backtest/test_fastpaths.py checks equality against the journal,
test_bookkeeping_oracle.py whole runs against digests of the eager code. Must not import: textual.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from kraken_tui.domain import ZERO, FillType, PositionSide, Side
from kraken_tui.domain.money import is_inverse_symbol, symbol_settlement_currency
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.journal.records import DEFAULT_ACCOUNT, FundingPayment
from kraken_tui.journal.trades import IntentInfo, Trade, derive_trades

from .settings import BacktestResult, fingerprint_text
from .state import BacktestState, FillRow, fill_of

__all__ = ["Trades"]




def _ts_of(p: FundingPayment) -> int:
    return p.ts_ms


_BUY = Side.BUY
_LONG, _SHORT = PositionSide.LONG, PositionSide.SHORT
# FillType.is_liquidation's members and the assignment types, compared by identity in the hot path
_LIQ, _PLIQ, _UNWIND = FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION, FillType.UNWIND_BANKRUPT
_ASSIGNOR, _ASSIGNEE = FillType.ASSIGNOR, FillType.ASSIGNEE
_FLATTENING = OperatorState.FLATTENING

#: object.__new__, the slot setters of journal.trades.Trade in field order, and its __post_init__ (which sets
#: net_pnl_usd): ``_new_trade`` builds a Trade without the frozen dataclass's __init__ (same object; a test
#: checks equality with ``Trade(...)`` and that the field list is still this one).
_TRADE_FIELDS = ("symbol", "side", "size", "entry_ts_ms", "exit_ts_ms", "entry_price", "exit_price", "gross_pnl_usd",
                 "fees_usd", "funding_usd", "exit_reason", "signal_id", "strategy", "mae_usd", "mfe_usd",
                 "funding_paid_usd", "funding_received_usd", "currency", "usd_rate", "gross_pnl_coin", "fees_coin",
                 "funding_coin", "account", "net_pnl_usd", "net_pnl_coin")
_TRADE_NEW = (object.__new__, *(Trade.__dict__[f].__set__ for f in _TRADE_FIELDS[:-2]), Trade.__post_init__)
_ONE = Decimal(1)


#: ``Trade``'s arguments in field order (without net_pnl_usd, which __post_init__ computes).
TradeArgs = tuple[str, PositionSide, Decimal, int, int, Decimal, Decimal, Decimal, Decimal, Decimal, str, str | None,
                  str | None, float, float, Decimal, Decimal]


def _new_trade(symbol: str, side: PositionSide, size: Decimal, entry_ts_ms: int, exit_ts_ms: int,
               entry_price: Decimal, exit_price: Decimal, gross_pnl_usd: Decimal, fees_usd: Decimal,
               funding_usd: Decimal, exit_reason: str, signal_id: str | None, strategy: str | None, mae_usd: float,
               mfe_usd: float, funding_paid_usd: Decimal = ZERO, funding_received_usd: Decimal = ZERO) -> Trade:
    """``Trade(...)`` (same arguments, same object) without the frozen dataclass's __init__."""
    new, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, *coin, post = _TRADE_NEW
    t: Trade = new(Trade)
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
    for setter, value in zip(coin, ("usd", _ONE, None, None, None, DEFAULT_ACCOUNT), strict=True):  # a PF_ trade
        setter(t, value)
    post(t)
    return t



class Trades:
    """Derives and reports the closed round trips of one backtest.

    Args:
        state: the backtest's state (its current round trip: ``cur_fills``, ``cur_intents``...).
        symbol: the perpetual; ``run8``: the first 8 characters of the run id (fill ids).
        result: where statistics rows and the last trades go.
        hash_update: fed each trade's fingerprint line (``settings.fingerprint_text``).
        on_trade: called with each closed ``Trade`` (None = Trade objects only for the last ten).
        op: the operator state machine (a close while FLATTENING completes the flatten).
    """

    __slots__ = ("st", "symbol", "run8", "result", "_hash_update", "_rows_append", "on_trade", "op", "_last_args",
                 "fee_currency")

    def __init__(self, state: BacktestState, symbol: str, run8: str, result: BacktestResult,
                 hash_update: Callable[[bytes], object], on_trade: Callable[[Trade], None] | None,
                 op: OperatorStateMachine) -> None:
        self.st = state
        self.symbol = symbol
        self.run8 = run8
        self.result = result
        self._hash_update = hash_update
        self._rows_append = result.rows.append
        self.on_trade = on_trade
        self.op = op
        # arguments of reported trades whose Trade objects are not built yet (report)
        self._last_args: deque[TradeArgs | Trade] = deque(maxlen=result.last_trades.maxlen)
        #: the fills' fee currency: "USD" for PF_; a PI_ (inverse) symbol's coin (``XBT``), whose round trips are
        #: derived by ``journal.trades.derive_trades`` (P&L in the coin, USD at the exit price)
        self.fee_currency = "USD" if not is_inverse_symbol(symbol) else symbol_settlement_currency(symbol).upper()

    def trade_closed(self) -> None:
        """The position is back to zero: derive the round trip (``_round_trip``, or the journal's
        ``derive_trades`` when a fill crossed zero), report it (``report``) and reset the round trip."""
        st = self.st
        inverse = self.fee_currency != "USD"
        if inverse or not self._round_trip():
            intents = {cli: IntentInfo(*v) for cli, v in st.cur_intents.items()}
            fills = [fill_of(self.run8, self.symbol, r, self.fee_currency) for r in st.cur_fills]
            for t in derive_trades(fills, intents=intents, strategies=st.cur_strategies,
                                   funding=st.cur_funding).closed:
                self.report(t.side is _LONG, t.size, t.entry_ts_ms, t.exit_ts_ms, t.entry_price, t.exit_price,
                             t.gross_pnl_usd, t.fees_usd, t.funding_usd, t.exit_reason, t.signal_id, t.strategy,
                             t.mae_usd, t.mfe_usd, t.funding_paid_usd, t.funding_received_usd,
                             trade=t if inverse else None)
        st.cur_fills = []
        if st.cur_funding:
            st.cur_funding = []
        st.cur_intents = {}
        st.cur_strategies = {}
        if st.resting:
            st.cancel_resting()
        st.exits = None
        if self.op.state is _FLATTENING:
            self.op.flatten_done("position closed at the open")

    def report(self, long: bool, size: Decimal, entry_ts: int, exit_ts: int, entry_price: Decimal,
               exit_price: Decimal, gross: Decimal, fees: Decimal, funding: Decimal, reason: str,
               signal_id: str | None, strategy: str | None, mae: float, mfe: float, paid: Decimal = ZERO,
               received: Decimal = ZERO, trade: Trade | None = None) -> None:
        """Report one closed trade from its values (``journal.trades.Trade``'s fields; net = gross - fees +
        funding as ``Trade.__post_init__`` computes it): its fingerprint line (``settings.fingerprint_text``), its statistics row (``settings.stats_row``), the loss streak, ``on_trade``. The ``Trade`` object
        is built only for ``on_trade``; otherwise its arguments wait in ``_last_args`` (the last ten) until
        ``flush_last_trades`` (end of each chunk) builds them for ``result.last_trades``. ``trade``: the derived
        ``Trade`` itself (a PI_ trade, with its coin figures), reported as is.
        tests/backtest/test_bookkeeping_oracle.py checks both paths against the eager code."""
        net = gross - fees + funding
        side = "long" if long else "short"
        self._hash_update(fingerprint_text(entry_ts, exit_ts, side, size, entry_price, exit_price, net, fees, funding,
                                           reason))
        # settings.stats_row(t); float(ZERO) is 0.0
        if funding is ZERO and paid is ZERO and received is ZERO:
            self._rows_append((exit_ts, entry_ts, side, self.symbol, strategy or "unknown", float(net), float(gross),
                               float(fees), 0.0, 0.0, 0.0))
        else:
            self._rows_append((exit_ts, entry_ts, side, self.symbol, strategy or "unknown", float(net), float(gross),
                               float(fees), float(funding), float(paid), float(received)))
        st = self.st
        st.consecutive_losses = st.consecutive_losses + 1 if net < 0 else 0
        st.closed_trades += 1
        if net > 0:
            st.winning_trades += 1
        args: TradeArgs | Trade = trade if trade is not None else (
            self.symbol, _LONG if long else _SHORT, size, entry_ts, exit_ts, entry_price, exit_price, gross, fees,
            funding, reason, signal_id, strategy, mae, mfe, paid, received)
        if self.on_trade is None:
            self._last_args.append(args)
        else:
            self.flush_last_trades()
            t = args if isinstance(args, Trade) else _new_trade(*args)
            self.result.last_trades.append(t)
            self.on_trade(t)

    def flush_last_trades(self) -> None:
        """Build the ``Trade`` objects of the reported trades still waiting in ``_last_args`` (the newest ten at
        most) into ``result.last_trades`` (``report``)."""
        pending = self._last_args
        if pending:
            last = self.result.last_trades
            for args in pending:
                last.append(args if isinstance(args, Trade) else _new_trade(*args))
            pending.clear()

    def _round_trip(self) -> bool:
        """Report the one closed trade of the current round trip (``_trade_of``), computed exactly as
        ``journal.trades.derive_trades`` computes it (same Decimal operations in the same order: size-weighted
        prices, notional P&L, fees, MAE/MFE sampled at fill prices, funding paid/received between entry and
        exit, exit reason of the closing fill). False (nothing reported) when the fills are not a plain round
        trip (a fill crossing zero, fills out of time order): the caller then runs ``derive_trades`` itself."""
        fills = self.st.cur_fills
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
                self._trade_of(side0 is _BUY, size0, ts0, exit_ts, cost, ZERO + price1 * size1, fees, low, high, cli0,
                               last)
                return True
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
                return False
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
                return False  # crosses zero: derive_trades splits it
            removed = cost if close_q == pos else cost * close_q / pos
            cost -= removed
            pos -= close_q
            exit_notional += price * close_q
            fees += fee
            exit_ts = ts
            last = f
        if pos != 0:
            return False
        self._trade_of(sign > 0, entry_size, ts0, exit_ts, entry_notional, exit_notional, fees, low, high, cli0, last)
        return True

    def _trade_of(self, long: bool, entry_size: Decimal, ts0: int, exit_ts: int, entry_notional: Decimal,
                  exit_notional: Decimal, fees: Decimal, low: float, high: float, cli0: str | None,
                  last: FillRow) -> None:
        """Report (``report``) the closed trade of a round trip from its sums (``journal.trades._finish``'s
        operations), its exit reason from the closing fill ``last`` and funding paid/received between entry and
        exit. ``cur_intents`` maps a cliOrdId to ``(purpose, side, signal id)`` (``journal.trades.IntentInfo``'s
        fields)."""
        st = self.st
        intents = st.cur_intents
        info = intents.get(cli0) if cli0 else None
        signal_id = info[2] if info else None
        ft, cli = last[4], last[5]
        if ft is _LIQ or ft is _PLIQ or ft is _UNWIND:  # ft.is_liquidation
            reason = "liquidation"
        elif ft is _ASSIGNOR or ft is _ASSIGNEE:
            reason = "assignment"
        else:
            einfo = intents.get(cli) if cli else None
            reason = "external" if einfo is None else "reverse" if einfo[0] in ("entry", "add") else einfo[0]
        strategy = st.cur_strategies.get(signal_id) if signal_id else None
        entry_price = entry_notional / entry_size
        exit_price = exit_notional / entry_size
        gross = (1 if long else -1) * (exit_notional - entry_notional)
        cur_funding = st.cur_funding
        if cur_funding:
            pays = [p for p in sorted(cur_funding, key=_ts_of) if ts0 <= p.ts_ms <= exit_ts]
            if pays:
                amounts = [p.amount_usd for p in pays]
                received = sum((a for a in amounts if a > 0), ZERO)
                paid = -sum((a for a in amounts if a < 0), ZERO)
                self.report(long, entry_size, ts0, exit_ts, entry_price, exit_price, gross, fees, received - paid,
                             reason, signal_id, strategy, low, high, paid, received)
                return
        self.report(long, entry_size, ts0, exit_ts, entry_price, exit_price, gross, fees, ZERO, reason, signal_id,
                     strategy, low, high)
