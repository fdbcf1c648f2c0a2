"""Reference for the backtest: the engine's policy driven bar by bar through the real ``PaperExchange`` object.

Nothing here is shared with ``kraken_tui.backtest.runner`` except the policy (strategy, ``decide`` with the
risk gate, ``PositionExits``) and the tick rounding of quotes: orders go through ``PaperExchange.send_order``
/ ``cancel_order``; fills, fees, funding, trigger firing, maker fills and liquidation are the paper
exchange's own. Each bar becomes ticks: a quote-only tick at the open (bid/ask = open -/+ slippage, mark
unchanged) at which the market orders decided at the previous close are sent, then trade ticks along
open -> adverse extreme -> favourable extreme -> close (adverse for the position held), with a tick
inserted at each resting stop price a segment crosses. Engine decisions (strategy, decide, on_mark) run at
the close. The operator's daily loss limit and equity floor are not modelled: tests using this reference
configure them out of reach.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.backtest.runner import HOUR_MS, BacktestSettings
from kraken_tui.config import PaperConfig
from kraken_tui.domain import ZERO, Candle, Fill, FillType, PositionSide, Side
from kraken_tui.domain.money import margin_rates
from kraken_tui.engine.decide import Close, Enter, decide
from kraken_tui.engine.exits import ClosePosition, ExitReason, MoveStop, PositionExits
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.trades import IntentInfo, Trade, derive_trades
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.sources.base import MarketTick

BIG = 1e12


class PaperReference:
    """Run ``settings`` over candle rows through a ``PaperExchange``; ``trades()`` gives the round trips."""

    def __init__(self, settings: BacktestSettings) -> None:
        s = self.s = settings
        self.sym = s.instrument.symbol
        cfg = PaperConfig(starting_balance_usd=s.starting_balance_usd, maker_fee_bps=s.maker_fee_bps,
                          taker_fee_bps=s.taker_fee_bps, symbols=[self.sym], liquidation_fee_pct=s.liquidation_fee_pct)
        self.ex = PaperExchange(cfg, instruments={self.sym: s.instrument})
        f = s.funding
        market = self.ex.markets[self.sym]
        if f.constant is not None:
            market.set_funding_rate(0, f.constant)
        else:
            for t, r in zip(f._times, f._rates, strict=True):  # noqa: SLF001 - test reads the schedule
                market.set_funding_rate(t, r)
        self.strategy = build_strategy(s.strategy, s.strategy_params, timeframe=s.timeframe)
        self.protective = bool(getattr(self.strategy, "protective_exits", True))
        self.fills: list[Fill] = []
        self.funding: list[FundingPayment] = []
        self.intents: dict[str, IntentInfo] = {}
        self.strategies: dict[str, str] = {}
        self.pending: list[tuple] = []
        self.resting: dict[str, ExitReason] = {}  # cli -> purpose
        self.exits: PositionExits | None = None
        self.signal_id: str | None = None
        self.n = 0
        self.bar_ts = 0
        self.prev_close: float | None = None
        self.peak = s.starting_balance_usd
        self.atr = ATR(s.atr_period)
        self.ex.add_listener(self._listen)

    # -------------------------------------------------------------- exchange events
    def _listen(self, kind: str, payload: object) -> None:
        if kind == "fill":
            pf = payload
            # intrabar ticks are 1 ms apart; the backtest stamps every fill of a bar with the bar's open time
            self.fills.append(Fill(pf.fill_id, pf.order_id, pf.symbol, pf.side, pf.size, pf.price, self.bar_ts,
                                   FillType(pf.fill_type), pf.cli_ord_id, pf.fee, "USD"))
            purpose = self.resting.get(pf.cli_ord_id or "")
            if self.exits is not None and purpose is not None:
                reason = self.exits.stop_reason if purpose in (ExitReason.STOP, ExitReason.TRAILING) else purpose
                self.exits.on_exit_fill(reason, pf.size)
            if self.exits is not None and pf.fill_type in ("liquidation", "partialLiquidation"):
                self.exits.on_exit_fill(ExitReason.LIQUIDATION, pf.size)
        elif kind == "account_log" and payload.info == "funding rate change":
            self.funding.append(FundingPayment(self.sym, payload.ts_ms, payload.realized_funding, ZERO))

    def _cli(self, reason: str, signal_id: str | None, side: Side) -> str:
        self.n += 1
        cli = f"ref-{signal_id}-{reason}-{self.n}"
        self.intents[cli] = IntentInfo(reason, side.value, signal_id)
        return cli

    def _send(self, params: dict) -> None:
        out = self.ex.send_order({"symbol": self.sym, **params})
        assert out.status in ("placed", "filled"), (out.status, params)

    def _pos(self) -> Decimal:
        p = self.ex.positions.get(self.sym)
        return p.size if p else ZERO

    def _cancel_resting(self) -> None:
        for cli in list(self.resting):
            if self.ex.find_open(cli_ord_id=cli) is not None:
                self.ex.cancel_order(cli_ord_id=cli)
        self.resting.clear()

    def _place_protective(self, ts: int) -> None:
        for po in self.exits.initial_orders():
            cli = self._cli(po.purpose.value, self.signal_id, po.side)
            p = {"side": po.side.value, "size": str(po.size), "reduceOnly": True, "cliOrdId": cli}
            if po.purpose is ExitReason.STOP:
                p.update(orderType="stp", stopPrice=str(po.price), triggerSignal="mark")
            else:
                p.update(orderType="lmt", limitPrice=str(po.price))
            self._send(p)
            self.resting[cli] = po.purpose

    # -------------------------------------------------------------- ticks
    def _tick(self, ts: int, p: float, *, quote_only: bool = False) -> None:
        k = self.s.slippage_bps / 10_000.0
        if quote_only:
            mark = self.prev_close if self.prev_close is not None else p
            t = MarketTick(self.sym, ts, bid=p * (1 - k), ask=p * (1 + k), bid_size=BIG, ask_size=BIG, mark_price=mark)
        else:
            t = MarketTick(self.sym, ts, last=p, bid=p * (1 - k), ask=p * (1 + k), bid_size=BIG, ask_size=BIG,
                           mark_price=p, index_price=p, trade_size=BIG, trade_side=Side.BUY)
        self.ex.apply_event(t)
        if self._pos() == 0 and self.resting:
            self._cancel_resting()
            self.exits = None

    def _stop_price(self) -> float | None:
        for o in self.ex.open_orders.values():
            if o.is_trigger:
                return float(o.stop_price)
        return None

    def bar(self, row: tuple) -> None:
        ts, o, h, lo, c, v = row
        self.bar_ts = ts
        closes = [p for p in self.pending if p[0] == "close"]
        if closes and self._pos() != 0:
            self._cancel_resting()
        self._tick(ts, o, quote_only=True)
        pending, self.pending = self.pending, []
        for kind, side, size, _reason, cli, signal_id, enter in pending:
            pos = self._pos()
            if kind == "close":
                if pos == 0 or (pos > 0) == (side is Side.BUY):
                    continue
                self._send({"orderType": "mkt", "side": side.value, "size": str(min(size, abs(pos))),
                            "reduceOnly": True, "cliOrdId": cli})
                self.exits = None
            else:
                self._send({"orderType": "mkt", "side": side.value, "size": str(size), "cliOrdId": cli})
                self.signal_id = signal_id
                pp = self.ex.positions[self.sym]
                if enter.protective:
                    ps = PositionSide.LONG if pp.size > 0 else PositionSide.SHORT
                    self.exits = PositionExits(self.s.exits, self.s.instrument, ps, pp.entry_price, abs(pp.size), ts)
                    self._place_protective(ts)
        pos = self._pos()
        long = pos >= 0
        path = (o, lo, h, c) if long else (o, h, lo, c)
        t = ts
        prev = None
        for p in path:
            if prev is not None:
                stop = self._stop_price()
                if stop is not None and ((long and p < prev and p <= stop < prev) or
                                         (not long and p > prev and prev < stop <= p)):
                    t += 1
                    self._tick(t, stop)
            t += 1
            self._tick(t, p)
            prev = p
        self.prev_close = c
        self._close(ts, o, h, lo, c, v)

    # -------------------------------------------------------------- decisions at the close
    def _close(self, ts, o, h, lo, c, v) -> None:
        close_ms = ts + self.s.bar_ms
        candle = Candle(ts, o, h, lo, c, v)
        self.atr.update(candle)
        sig = self.strategy.on_candle(self.sym, self.s.timeframe, candle, None)
        figs = self.ex.figures()
        eq = float(figs.margin_equity)
        self.peak = max(self.peak, eq)
        if self.exits is not None and self._pos() != 0:
            for act in self.exits.on_mark(Decimal(repr(c)), close_ms):
                if isinstance(act, MoveStop):
                    for cli, purpose in list(self.resting.items()):
                        if purpose in (ExitReason.STOP, ExitReason.TRAILING):
                            self.ex.cancel_order(cli_ord_id=cli)
                            del self.resting[cli]
                    so = self.exits.stop_order()
                    cli = self._cli(ExitReason.TRAILING.value, self.signal_id, so.side)
                    self._send({"orderType": "stp", "side": so.side.value, "size": str(so.size), "reduceOnly": True,
                                "stopPrice": str(so.price), "triggerSignal": "mark", "cliOrdId": cli})
                    self.resting[cli] = ExitReason.TRAILING
                elif isinstance(act, ClosePosition):
                    self._queue_close(act.reason, self.signal_id)
        if sig is None:
            return
        sid = f"run-{self.sym}-{close_ms}"
        pos = self._pos()
        mark = Decimal(repr(c))
        positions = ()
        pp = self.ex.positions.get(self.sym)
        if pp is not None and pp.size != 0:
            im, mm = margin_rates(self.s.instrument, pp.size, pp.entry_price)
            positions = (OpenExposure(self.sym, pp.size, pp.entry_price, mark, im, mm),)
        losses = 0
        for t in reversed(self.trades()):
            if t.net_pnl_usd < 0:
                losses += 1
            else:
                break
        equity = figs.margin_equity
        dd = max((self.peak - float(equity)) / self.peak * 100.0, 0.0)
        acct = AccountSnapshot(equity, figs.balance_value, positions, losses, dd)
        atr = self.atr.value
        rate = self.ex.markets[self.sym].funding_rate_for(close_ms - close_ms % HOUR_MS)
        for a in decide(sig, instrument=self.s.instrument, position_size=pos, mark_price=mark, index_price=mark,
                        account=acct, risk_cfg=self.s.risk, exits_cfg=self.s.exits, entry_block_reason=None,
                        atr_pct=atr / c * 100.0 if atr is not None else None, funding_rate=rate,
                        sizing=getattr(self.strategy, "sizing", None), protective=self.protective):
            if isinstance(a, Close):
                self._queue_close(a.reason, sid)
            elif isinstance(a, Enter):
                cli = self._cli("entry", sid, a.order_side)
                self.strategies[sid] = self.strategy.name
                self.pending.append(("enter", a.order_side, a.size, "entry", cli, sid, a))

    def _queue_close(self, reason: ExitReason, sid: str | None) -> None:
        pos = self._pos()
        if pos == 0:
            return
        side = Side.SELL if pos > 0 else Side.BUY
        cli = self._cli(reason.value, sid, side)
        self.pending.append(("close", side, abs(pos), reason.value, cli, sid, None))

    def trades(self) -> list[Trade]:
        """Closed round trips so far, with the journal's derivation."""
        return derive_trades(self.fills, intents=self.intents, strategies=self.strategies, funding=self.funding).closed
