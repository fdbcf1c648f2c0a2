"""Building the engine's front-end views from in-memory state (no I/O): the whole ``EngineSnapshot``, positions
with liquidation risk, orders with their purpose, account figures and the risk gate's account snapshot.

Owns: ``SnapshotBuilder`` and ``RunInfo`` (the ``facade.EngineSnapshot`` the front ends poll), ``position_view``,
``order_views``, ``account_view``, ``risk_account``, ``rate_limit_headroom`` and ``liquidation`` (the
per-position estimated liquidation price, distance from mark and ``RiskLevel``, spec §9 via
``engine.liquidation``). Pure functions over ``AccountTracker`` and ``MarketState``.
Units: prices USD, sizes contracts (Decimal; PI_ inverse contracts are USD each), P&L USD (inverse coin P&L
valued at the mark), distances as fractions of mark.
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from kraken_tui.domain import ZERO, Instrument, Position, PositionSide, money, to_decimal
from kraken_tui.domain.instruments import price_decimals
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.candles import timeframe_ms
from kraken_tui.engine.facade import (
    AccountView,
    DeadManView,
    EngineEvent,
    EngineMode,
    EngineSnapshot,
    FeedView,
    FlattenProgress,
    MarketStateView,
    NotifyView,
    OrderView,
    PositionView,
    SignalView,
    WarmupView,
)
from kraken_tui.engine.funding import FundingAccrual
from kraken_tui.engine.guards import EquityGuard, coin_accounts_usd, coin_price_usd, equity_at_mark
from kraken_tui.engine.liquidation import (
    RiskLevel,
    inverse_liquidation_price,
    linear_liquidation_price,
    liquidation_distance,
    risk_level,
)
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import PriceSeries

__all__ = ["DAY_MS", "RunInfo", "SnapshotBuilder", "WarmupSpec", "account_view", "change_24h_pct",
           "equity_at_mark_usd", "liquidation", "market_views", "notional_usd", "order_views", "position_view",
           "rate_limit_headroom", "risk_account", "upnl_usd", "warmup_views"]

#: 24 hours in milliseconds (the span of ``change_24h_pct``).
DAY_MS = 86_400_000


def _mark(market: MarketState, p: Position) -> Decimal | None:
    m = market.mark_price(p.symbol)
    if m is not None and m > 0:
        return to_decimal(m)
    return p.mark_price


def _rates(inst: Instrument | None, notional: Decimal) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) margin rates of the tier for ``notional`` USD (spec §9); 50%/25% unknown."""
    if inst is None or not inst.margin_levels:
        return Decimal("0.5"), Decimal("0.25")
    lvl = inst.margin_level_for(notional)
    return lvl.initial_margin_rate, lvl.maintenance_margin_rate


def _inverse(inst: Instrument | None, symbol: str) -> bool:
    """True for an inverse (PI_/FI_) position: the instrument's type when known, else the symbol prefix."""
    return not inst.is_linear if inst is not None else money.is_inverse_symbol(symbol)


def _contract_usd(inst: Instrument | None) -> Decimal:
    """USD per inverse contract (``contract_size``; 1 for PI_XBTUSD / PI_ETHUSD when the instrument is unknown)."""
    return inst.contract_size if inst is not None else Decimal(1)


def upnl_usd(p: Position, mark: Decimal, inst: Instrument | None) -> Decimal:
    """Unrealised P&L of ``p`` at ``mark`` in USD: size x (mark - entry) for PF_ linear; for PI_ inverse the
    coin P&L size x contract size x (1/entry - 1/mark) valued at the mark (``domain.money.unrealized_pnl_usd``;
    Kraken Support "Portfolio Management")."""
    if not _inverse(inst, p.symbol):
        return p.signed_size * (mark - p.entry_price)
    return p.signed_size * _contract_usd(inst) * (mark - p.entry_price) / p.entry_price


def notional_usd(p: Position, price: Decimal, inst: Instrument | None) -> Decimal:
    """Notional in USD of ``p`` at ``price``: |size| x price for PF_, |size| x contract size for PI_
    (``domain.money.notional_usd``)."""
    if not _inverse(inst, p.symbol):
        return p.size * price
    return p.size * _contract_usd(inst)


def risk_account(acct: AccountTracker, market: MarketState, instruments: Mapping[str, Instrument],
                 *, consecutive_losses: int = 0, drawdown_pct: float = 0.0, symbol: str | None = None) -> AccountSnapshot:
    """The risk gate's view for an entry in ``symbol``: the equity and collateral (USD) of the account that
    margins it, and every open position at mark. A PF_ symbol (or None) is margined by the flex account: its
    margin equity and USD collateral. A PI_ symbol by its coin's inverse margin account (spec §4.6
    ``fi_xbtusd``): its equity at the coin's mark (``guards.coin_accounts_usd``: coin balance + coin P&L of
    its PI_ positions, in USD) and its coin balance at that mark as the collateral; both 0 when that account
    has not been reported or its coin has no price yet (the gate then refuses to size the entry).
    Example: 0.1 XBT, no position, PI_XBTUSD mark 50 000 -> equity and collateral 5 000 USD."""
    a = acct.account
    exposures = []
    for p in acct.positions.values():
        mark = _mark(market, p) or p.entry_price
        inst = instruments.get(p.symbol)
        im, mm = _rates(inst, notional_usd(p, mark, inst))
        exposures.append(OpenExposure(p.symbol, p.signed_size, p.entry_price, mark, im, mm,
                                      inverse=_inverse(inst, p.symbol)))
    if symbol is not None and _inverse(instruments.get(symbol), symbol):
        coin = money.symbol_settlement_currency(symbol)
        ca = acct.coin_accounts.get(coin)
        price = coin_price_usd(coin, acct, market)
        equity = coin_accounts_usd(acct, market).get(coin, ZERO)
        collateral = ca.balance_coin * price if ca is not None and price is not None else ZERO
    else:
        equity = a.margin_equity_usd if a is not None else ZERO
        collateral = a.collateral_value_usd if a is not None else ZERO
    return AccountSnapshot(equity, collateral, tuple(exposures), consecutive_losses, drawdown_pct)


def liquidation(p: Position, acct: AccountTracker, market: MarketState,
                instruments: Mapping[str, Instrument]) -> tuple[Decimal | None, Decimal | None, RiskLevel]:
    """(estimated liquidation price USD, distance from mark as a fraction, RiskLevel) of one position.

    PF_ linear: the cross-margined multi-collateral account; the other PF_ positions' unrealised P&L and
    maintenance margin count (spec §9). PI_ inverse: margined in its coin (spec §4.6 inverse margin
    accounts), estimated with the inverse formula on the coin collateral: the coin balance of its inverse
    margin account (``AccountTracker.coin_accounts``) when reported, else the flex account's balance of that
    coin, else its USD collateral at the mark. A PI_ position's figures never enter a PF_
    estimate and the other way round (Kraken keeps them in separate accounts).
    No liquidation price (collateral covers any move) gives (None, None, LOW), never a zero."""
    mark = _mark(market, p)
    a = acct.account
    if mark is None or a is None:
        return None, None, RiskLevel.LOW
    inst = instruments.get(p.symbol)
    if _inverse(inst, p.symbol):
        mm_rate = _rates(inst, notional_usd(p, p.entry_price, inst))[1]
        base = inst.base.lower() if inst is not None and inst.base else p.symbol[3:-3].lower()
        ca = acct.coin_accounts.get(base)
        coin = ca.balance_coin if ca is not None else a.currencies.get(base, ZERO)
        collateral_coin = coin if coin > 0 else a.collateral_value_usd / mark
        liq = inverse_liquidation_price(p.signed_size * _contract_usd(inst), p.entry_price, mm_rate,
                                        collateral_coin)
    else:
        other_upnl, other_mm = ZERO, ZERO
        for o in acct.positions.values():
            oi = instruments.get(o.symbol)
            if o.symbol == p.symbol or _inverse(oi, o.symbol):
                continue
            om = _mark(market, o) or o.entry_price
            other_upnl += o.signed_size * (om - o.entry_price)
            other_mm += o.size * o.entry_price * _rates(oi, o.size * om)[1]
        mm_rate = _rates(inst, p.size * p.entry_price)[1]
        liq = linear_liquidation_price(p.signed_size, p.entry_price, mm_rate, a.collateral_value_usd, other_upnl,
                                       other_mm)
    dist = liquidation_distance(mark, liq, p.side is PositionSide.LONG)
    return liq, dist, risk_level(dist)


def position_view(p: Position, acct: AccountTracker, market: MarketState,
                  instruments: Mapping[str, Instrument], *, funding_usd: Decimal | None = None,
                  external: bool = False) -> PositionView:
    """One ``PositionView``: unrealised P&L at mark, leverage on the equity of the account margining it (flex;
    a PI_ position's coin account at mark when reported), liquidation risk, exit state.

    ``funding_usd``: the hourly funding estimate since the position opened (engine.funding, USD, positive
    = received); None falls back to the real payments booked on the managed position. ``external``: the
    position was adopted by reconciliation; a position the engine does not manage is external as well.
    """
    mark = _mark(market, p)
    inst = instruments.get(p.symbol)
    upnl = upnl_usd(p, mark, inst) if mark is not None else ZERO
    entry_notional = notional_usd(p, p.entry_price, inst)
    equity = acct.equity_usd or ZERO
    if _inverse(inst, p.symbol) and acct.coin_accounts:  # PI_: leverage on its coin account's equity at mark
        equity = coin_accounts_usd(acct, market).get(money.symbol_settlement_currency(p.symbol), equity)
    liq, dist, level = liquidation(p, acct, market, instruments)
    mp = acct.managed.get(p.symbol)
    return PositionView(
        symbol=p.symbol,
        side=p.side,
        size=p.size,
        entry_price=p.entry_price,
        mark_price=mark,
        upnl_usd=upnl,
        upnl_pct=float(upnl / entry_notional * 100) if entry_notional else 0.0,
        leverage_x=float(notional_usd(p, mark or p.entry_price, inst) / equity) if equity > 0 else 0.0,
        liq_price=liq,
        liq_distance=float(dist) if dist is not None else None,
        risk_level=level,
        funding_accrued_usd=funding_usd if funding_usd is not None else mp.funding_usd if mp is not None else ZERO,
        opened_ts_ms=p.ts_ms,
        external=external or mp is None,
        stop_price=mp.exits.stop_price if mp is not None else None,
        take_profits_left=len(mp.exits.take_profits_left()) if mp is not None else 0,
        price_decimals=_decimals(inst),
    )


def _decimals(inst: Instrument | None) -> int | None:
    """Decimals of ``inst``'s tick (``domain.price_decimals``), None when the instrument is unknown."""
    return price_decimals(inst.tick_size) if inst is not None else None


def order_views(acct: AccountTracker, purposes: Mapping[str, str],
                instruments: Mapping[str, Instrument] | None = None) -> tuple[OrderView, ...]:
    """Open orders as ``OrderView``s; ``purposes`` maps our cliOrdIds to their purpose (else external);
    ``instruments`` give each order's price decimals (its tick)."""
    out = []
    for o in acct.orders.values():
        out.append(OrderView(
            order_id=o.order_id, cli_ord_id=o.cli_ord_id, symbol=o.symbol, side=o.side, order_type=o.order_type,
            size=o.size, filled=o.filled, limit_price=o.limit_price, stop_price=o.stop_price,
            reduce_only=o.reduce_only, purpose=purposes.get(o.cli_ord_id or "", "external"),
            ts_ms=o.received_ts_ms, price_decimals=_decimals((instruments or {}).get(o.symbol)),
        ))
    return tuple(out)


def equity_at_mark_usd(acct: AccountTracker, positions: Sequence[PositionView]) -> Decimal | None:
    """The last report's margin equity re-marked with the positions' unrealized P&L at the current marks
    (USD): report equity - report unrealized P&L + sum of ``PositionView.upnl_usd`` (Kraken Futures docs,
    "Multi-collateral margin"; the same figure as ``guards.equity_at_mark``). The report's equity when a
    position has no mark yet; None before the first account report."""
    a = acct.account
    if a is None:
        return None
    if any(p.mark_price is None for p in positions):
        return a.margin_equity_usd
    return a.margin_equity_usd - a.unrealized_pnl_usd + sum((p.upnl_usd for p in positions), ZERO)


def account_view(acct: AccountTracker, positions: Sequence[PositionView], starting: Decimal, peak: Decimal,
                 history: tuple[tuple[int, float], ...], *, day_start: Decimal | None = None,
                 marked_usd: Decimal | None = None) -> AccountView:
    """Account figures (USD) for the front end; ``starting``/``peak`` equity tracked by the engine,
    ``day_start`` the equity at the start of the UTC day (``guards.EquityGuard.day_start_usd``). Drawdown is
    from the peak to the equity at mark (percent). ``marked_usd``: the total equity at mark when the account
    has inverse margin accounts (``guards.equity_at_mark``: flex + coin accounts at their coins' marks);
    None = the flex account's (``equity_at_mark_usd``)."""
    a = acct.account
    marked = marked_usd if marked_usd is not None else equity_at_mark_usd(acct, positions)
    equity = marked if marked is not None else ZERO
    ratio = a.margin_ratio if a is not None else None
    return AccountView(
        equity_usd=a.margin_equity_usd if a is not None else ZERO,
        starting_equity_usd=starting,
        peak_equity_usd=peak,
        realized_pnl_today_usd=acct.realized_today_usd,
        unrealized_pnl_usd=sum((p.upnl_usd for p in positions), ZERO),
        fees_today_usd=acct.fees_today_usd,
        funding_today_usd=acct.funding_today_usd,
        available_margin_usd=a.available_margin_usd if a is not None else ZERO,
        maintenance_margin_usd=a.maintenance_margin_usd if a is not None else ZERO,
        margin_ratio=float(ratio) if ratio is not None else None,
        drawdown_pct=float((peak - equity) / peak * 100) if peak > 0 and equity < peak else 0.0,
        equity_history=history,
        equity_at_mark_usd=marked,
        day_start_equity_usd=day_start,
        initial_margin_usd=a.initial_margin_usd if a is not None else ZERO,
    )


def rate_limit_headroom(client: object) -> float | None:
    """The share (0-1) of the client's REST rate-limit budget available now (``client.rate_limit.headroom()``
    gives (available, capacity) points; Kraken Futures docs, "Rate limits"); None when the client has no
    limiter or it cannot say."""
    rl = getattr(client, "rate_limit", None)
    if rl is None:
        return None
    with contextlib.suppress(Exception):
        avail, cap = rl.headroom()
        return max(0.0, min(1.0, avail / cap)) if cap else None
    return None


@dataclass(frozen=True, slots=True)
class WarmupSpec:
    """What the strategy needs before its first signal: ``bars_needed`` closed candles of ``timeframe`` of the
    price ``series`` ("trade" or "spot") per symbol (``signals.Strategy``)."""

    series: PriceSeries
    timeframe: str
    bars_needed: int


def warmup_views(market: MarketState, spec: WarmupSpec | None, now_ms: int) -> tuple[WarmupView, ...]:
    """Per traded symbol, the closed candles held vs ``spec.bars_needed`` and when the forming candle closes
    (the next multiple of the timeframe after ``now_ms``, engine clock UTC ms); empty without a spec or when
    the market does not build the spec's series."""
    if spec is None or spec.bars_needed <= 0:
        return ()
    try:
        tf_ms = timeframe_ms(spec.timeframe)
    except (KeyError, ValueError):
        return ()
    out = []
    for sym in market.symbols:
        try:
            held = len(market.builder(sym, spec.series).candles(spec.timeframe))
        except (KeyError, ValueError):
            continue
        out.append(WarmupView(sym, spec.timeframe, held, spec.bars_needed, (now_ms // tf_ms + 1) * tf_ms))
    return tuple(out)


def change_24h_pct(market: MarketState, symbol: str, now_ms: int) -> float | None:
    """The change of ``symbol``'s last trade price over the 24 hours to ``now_ms`` (engine clock, UTC ms), in
    percent: (last / close 24 h ago - 1) x 100, where "close 24 h ago" is the close of the newest trade candle
    that closed at or before ``now_ms - 24 h`` (so the span is 24 h to 24 h + one candle), read from the
    shortest timeframe whose held history reaches back that far. The same figure as Kraken's ticker
    ``change`` (Kraken Futures docs, WebSocket v1 "ticker": 24 h change of the last price, percent).
    None when no last price is known, the market builds no trade candles, or under 24 h of candles are held.
    Example: last 3,500, close 24 h ago 3,400 -> +2.94."""
    last = market.last_price(symbol)
    if last is None or "trade" not in market.series:
        return None
    cutoff = now_ms - DAY_MS
    builder = market.builder(symbol, "trade")
    for tf in builder.timeframes:
        tf_ms = timeframe_ms(tf)
        history = builder.candles(tf)
        if not history or history[0].ts_ms + tf_ms > cutoff:
            continue
        i = bisect_right(history, cutoff - tf_ms, key=lambda c: c.ts_ms) - 1
        ref = history[i].close
        return (last / ref - 1) * 100 if ref > 0 else None
    return None


def market_views(market: MarketState, now_ms: int,
                 instruments: Mapping[str, Instrument] | None = None) -> tuple[MarketStateView, ...]:
    """``MarketState.views`` with the 24 h change filled from the candles held (``change_24h_pct``) where
    the feed gave none, and each symbol's price decimals (its tick in ``instruments``)."""
    out = []
    for v in market.views():
        change = v.change_24h_pct if v.change_24h_pct is not None else change_24h_pct(market, v.symbol, now_ms)
        decimals = _decimals((instruments or {}).get(v.symbol))
        out.append(replace(v, change_24h_pct=change, price_decimals=decimals))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the snapshot says about the run itself: ``mode`` (paper / replay / live), ``synthetic`` prices,
    the ``strategy`` name, the ``journal_path`` (None = no journal file), the ``profile`` name ("" = none) and
    the ``paper_account`` file (None = the paper account does not persist, or not a paper run)."""

    mode: EngineMode
    synthetic: bool
    strategy: str
    journal_path: str | None
    profile: str = ""
    paper_account: str | None = None


class SnapshotBuilder:
    """Assembles ``facade.EngineSnapshot`` from the engine's state in memory (no I/O).

    Args:
        run: the run's fixed facts (``RunInfo``).
        now_ms: the engine clock (UTC ms).
        sm: the operator state machine (state, reason, entry blockers).
        account, market, instruments: positions, orders, account figures, quotes, margin tiers.
        equity: starting and peak equity (``guards.EquityGuard``).
        equity_history: (UTC ms, equity USD) points for the equity curve.
        funding: the hourly funding estimate per position (``funding.FundingAccrual``).
        is_external: whether a symbol's position was adopted by reconciliation.
        purposes: cliOrdId -> purpose of our orders (``order_flow.OrderFlow.order_purposes``).
        signals: the latest signals (``decisions.Decisions.signals``).
        events: the recent events (``context.EventHub.recent``).
        feed: the market feed's health now (``market_events.FeedMonitor.view``).
        client: the REST client, for its rate-limit headroom (``rate_limit_headroom``).
    """

    def __init__(self, run: RunInfo, *, now_ms: Callable[[], int], sm: OperatorStateMachine,
                 account: AccountTracker, market: MarketState, instruments: Mapping[str, Instrument],
                 equity: EquityGuard, equity_history: Sequence[tuple[int, float]], funding: FundingAccrual,
                 is_external: Callable[[str], bool], purposes: Callable[[], Mapping[str, str]],
                 signals: Sequence[SignalView], events: Sequence[EngineEvent], feed: Callable[[], FeedView],
                 client: object) -> None:
        self.run, self.now_ms, self.sm = run, now_ms, sm
        self.account, self.market, self.instruments = account, market, instruments
        self.equity, self.equity_history, self.funding = equity, equity_history, funding
        self.is_external, self.purposes, self.signals, self.events = is_external, purposes, signals, events
        self.feed, self.client = feed, client
        self.notify: Callable[[], NotifyView] = NotifyView
        """The notification channels' health (set by the composition root when a notifier runs)."""
        self.warmup: WarmupSpec | None = None
        """The strategy's warm-up need (set by the engine; None: the snapshot's ``warmup`` stays empty)."""

    def build(self, *, dead_man: DeadManView, flatten: FlattenProgress | None, finished: bool) -> EngineSnapshot:
        """The snapshot now, with the dead man's switch's view, the flatten's progress (None: no flatten
        ran) and whether the engine finished."""
        now = self.now_ms()
        positions = tuple(position_view(p, self.account, self.market, self.instruments,
                                        funding_usd=self.funding.accrued(p.symbol),
                                        external=self.is_external(p.symbol))
                          for p in self.account.positions.values())
        return EngineSnapshot(
            ts_ms=now, mode=self.run.mode, synthetic=self.run.synthetic, state=self.sm.state,
            state_reason=self.sm.reason, entry_blockers=self.sm.entry_blockers,
            account=account_view(self.account, positions, self.equity.starting_usd, self.equity.peak_usd,
                                 tuple(self.equity_history), day_start=self.equity.day_start_usd,
                                 marked_usd=equity_at_mark(self.account, self.market)
                                 if self.account.coin_accounts else None),
            positions=positions, orders=order_views(self.account, self.purposes(), self.instruments),
            markets=market_views(self.market, now, self.instruments), signals=tuple(self.signals),
            events=tuple(self.events),
            feed=self.feed(), dead_man=dead_man, rate_limit_headroom=rate_limit_headroom(self.client),
            flatten=flatten, strategy=self.run.strategy, journal_path=self.run.journal_path, finished=finished,
            profile=self.run.profile, paper_account=self.run.paper_account, notify=self.notify(),
            warmup=warmup_views(self.market, self.warmup, now))
