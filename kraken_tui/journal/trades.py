"""Round-trip trades derived from fills (they are never stored: the fills are the facts).

Owns: the position walk per symbol that turns fills into trades, the attribution of funding payments
and exit reasons, and the maximum adverse / favourable excursion.

Rules (P&L for PF_ linear perpetuals, spec §8.5: ``(exit - entry) x size`` in USD, times the side's
sign for shorts):
- A trade opens when a symbol's position leaves 0 and closes when it returns to 0. A fill that
  crosses 0 (reversal) closes one trade and opens the next at the same fill; its size splits into the
  closing part (the old position) and the rest, and its fee splits pro rata by size, the closing part
  rounded half-even to ``FEE_SPLIT_USD`` (1e-12 USD) and the opening part taking the remainder: the two parts
  sum exactly to the fee, and (with no 28-digit rounding in the sums that follow) the trades' and the open
  position's fees sum exactly to the fills' fees.
- ``size`` is the total size opened (= total size closed); ``entry_price``/``exit_price`` are the
  size-weighted average fill prices. ``gross_pnl_usd = sign x (exit notional - entry notional)``,
  exact in Decimal; this equals the sum of the per-fill realised P&L of the average-cost method.
- ``fees_usd``: sum of the trade's fill fees (negative fees = rebates lower it). Fees are taken as
  USD, which holds for PF_ contracts (spec §8.6).
- ``funding_usd``: signed sum (+ received, - paid) of the symbol's funding payments with
  ``entry_ts_ms <= ts_ms <= exit_ts_ms``; a payment on the boundary of two trades goes to the
  earlier one; each payment counts once.
- ``net_pnl_usd = gross_pnl_usd - fees_usd + funding_usd``.
- ``exit_reason``: ``liquidation`` when the closing fill is a liquidation fill type, ``assignment``
  for assignor/assignee fills, else the ``IntentPurpose`` of the closing fill's cliOrdId (``reverse``
  when that intent was an entry in the other direction), else ``flatten`` for a flatten's close (cliOrdId
  ``records.FLATTEN_ID_PREFIX``: the console key, ``ctl flatten``, the equity floor or ``kraken-tui flatten``
  straight to the exchange; ``records.flatten_source_of`` names which; ``equity_floor`` when the equity
  floor started it), else ``external`` (nobody here explains the closing fill).
- PI_ inverse contracts (1 USD each; Kraken Support "Portfolio Management": P&L = (1/entry - 1/exit) x size
  in the coin): the walk runs on coin values (size / price) instead of notionals; ``entry_price`` /
  ``exit_price`` are the size-weighted harmonic means (size / sum of size / price), ``gross_pnl_coin =
  sign x (entry coin - exit coin)``, fees and funding are in the coin as the exchange books them, and the USD
  figures are the coin figures x ``usd_rate`` = the exit price (the rate at which the trade's coin P&L is
  valued); ``currency`` names the coin (``xbt``). For PF_ trades the coin fields equal the USD ones,
  ``currency`` is ``usd`` and ``usd_rate`` is 1.
- Accounts: one walk per account (``derive_trades_per_account``; the journal knows each fill's account through
  its run, ``records.run_account``); a trade carries its ``account`` and never mixes two accounts' fills.
- ``mae_usd``/``mfe_usd``: the lowest (<= 0) and highest (>= 0) unrealised P&L of the open position,
  ``sign x (price x open size - cost basis)``, sampled at every mark price journaled for the symbol
  while the trade was open and at every fill price of the trade (so without marks it is measured at
  fill prices only). Floats: they are analytics.
Must not import: sqlite3, aiosqlite, textual, the engine.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from kraken_tui.domain import ZERO, Fill, FillType, PositionSide
from kraken_tui.domain.fastinit import fast_init
from kraken_tui.domain.money import is_inverse_symbol, symbol_settlement_currency
from kraken_tui.journal.records import (
    DEFAULT_ACCOUNT,
    FlattenSource,
    FundingPayment,
    IntentPurpose,
    flatten_source_of,
)

__all__ = ["FEE_SPLIT_USD", "IntentInfo", "OpenPosition", "Trade", "TradeSet", "TradeWalk", "attribute_funding",
           "derive_trades",
           "derive_trades_per_account", "facts_per_account"]

#: Step the closing part of a reversal fill's fee is rounded to (USD; module docstring).
FEE_SPLIT_USD = Decimal("1e-12")
_ONE = Decimal(1)


@fast_init
@dataclass(frozen=True, slots=True)
class IntentInfo:
    """What the journal knows about one cliOrdId: its purpose and the signal that caused it."""

    purpose: str
    side: str | None = None
    signal_id: str | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed round trip. Prices USD, size contracts, money USD (see the module docstring)."""

    symbol: str
    side: PositionSide
    size: Decimal
    entry_ts_ms: int
    exit_ts_ms: int
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl_usd: Decimal
    fees_usd: Decimal
    funding_usd: Decimal
    exit_reason: str
    signal_id: str | None = None
    strategy: str | None = None
    mae_usd: float = 0.0
    mfe_usd: float = 0.0
    funding_paid_usd: Decimal = ZERO
    funding_received_usd: Decimal = ZERO
    currency: str = "usd"
    """Settlement currency of the coin figures: ``usd`` (PF_) or the base coin (``xbt`` for PI_XBTUSD)."""
    usd_rate: Decimal = Decimal(1)
    """USD per unit of ``currency`` used for the USD figures (the exit price for PI_; 1 for PF_)."""
    gross_pnl_coin: Decimal | None = None
    fees_coin: Decimal | None = None
    funding_coin: Decimal | None = None
    account: str = DEFAULT_ACCOUNT
    """The exchange account the trade's fills belong to (``records.run_account``)."""
    net_pnl_usd: Decimal = field(init=False, default=ZERO)
    """gross - fees + funding, USD (computed on construction)."""
    net_pnl_coin: Decimal = field(init=False, default=ZERO)
    """gross - fees + funding in ``currency`` (computed on construction; the USD figure for PF_)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "net_pnl_usd", self.gross_pnl_usd - self.fees_usd + self.funding_usd)
        if self.gross_pnl_coin is None:
            object.__setattr__(self, "net_pnl_coin", self.net_pnl_usd)
        else:
            object.__setattr__(self, "net_pnl_coin", self.gross_pnl_coin - (self.fees_coin or ZERO)
                               + (self.funding_coin or ZERO))


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A position still open at the end of the fills: side, size (contracts), average entry (USD)."""

    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    entry_ts_ms: int
    account: str = DEFAULT_ACCOUNT


@dataclass(slots=True)
class TradeSet:
    """The result of ``derive_trades``.

    Attributes:
        closed: closed trades, ordered by exit time.
        open: positions still open after the last fill.
        realized_pnl_usd: realised P&L of every reducing fill (average-cost method), including partial
            closes of positions still open; what the exchange's account log books as ``realized_pnl``.
        fees_usd: fees of every fill. funding_usd: every funding payment (signed, + received).
        unattributed_funding_usd: payments that fell in no closed trade (open or external positions).
        These four cover the USD-settled (PF_) symbols only.
        coin: per inverse settlement currency (``xbt``...) the same three totals in that coin:
            (realised P&L, fees, funding), what the exchange's account log books in that currency.
    """

    closed: list[Trade] = field(default_factory=list)
    open: list[OpenPosition] = field(default_factory=list)
    realized_pnl_usd: Decimal = ZERO
    fees_usd: Decimal = ZERO
    funding_usd: Decimal = ZERO
    unattributed_funding_usd: Decimal = ZERO
    coin: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)


class _Leg:
    """A trade while it is open (mutable accumulator)."""

    __slots__ = ("symbol", "sign", "pos", "cost", "entry_notional", "entry_size", "exit_notional", "fees",
                 "entry_ts", "exit_ts", "last_type", "last_cli", "signal_id", "low", "high", "realized", "inverse")

    def __init__(self, f: Fill, sign: int, size: Decimal, fee: Decimal, signal_id: str | None,
                 inverse: bool = False) -> None:
        self.symbol = f.symbol
        self.sign = sign
        self.pos = size
        self.inverse = inverse
        # the position's value at entry: USD notional (PF_) or coin value size / price (PI_)
        self.cost = size / f.price if inverse else f.price * size
        self.entry_notional = self.cost
        self.entry_size = size
        self.exit_notional = ZERO
        self.fees = fee
        self.entry_ts = f.ts_ms
        self.exit_ts = f.ts_ms
        self.last_type = f.fill_type  # of the last fill that reduced it (its exit reason once it closes)
        self.last_cli = f.cli_ord_id
        self.signal_id = signal_id
        self.low = 0.0
        self.high = 0.0
        self.realized = ZERO  # average-cost realised P&L of the partial closes so far

    def sample(self, price: float | Decimal) -> None:
        """Record the unrealised P&L of the open position at ``price`` (for MAE/MFE), USD at ``price``."""
        if self.inverse:
            px = float(price)
            u = self.sign * (float(self.cost) - float(self.pos) / px) * px
        elif isinstance(price, Decimal):
            u = float(self.sign * (price * self.pos - self.cost))
        else:
            u = self.sign * (price * float(self.pos) - float(self.cost))
        if u < self.low:
            self.low = u
        elif u > self.high:
            self.high = u


_LIQUIDATION = frozenset(t for t in FillType if t.is_liquidation)
_ASSIGNMENT = frozenset((FillType.ASSIGNOR, FillType.ASSIGNEE))


def _exit_reason(fill_type: FillType, cli_ord_id: str | None, intents: Mapping[str, IntentInfo]) -> str:
    if fill_type in _LIQUIDATION:
        return "liquidation"
    if fill_type in _ASSIGNMENT:
        return "assignment"
    info = intents.get(cli_ord_id) if cli_ord_id else None
    if info is None or info.purpose == IntentPurpose.FLATTEN.value:
        source = flatten_source_of(cli_ord_id)
        if source == FlattenSource.FLOOR.label:  # the equity floor's flatten: its own reason
            return IntentPurpose.EQUITY_FLOOR.value
        if info is None:
            return IntentPurpose.FLATTEN.value if source is not None else "external"
    if info.purpose in ("entry", "add"):
        return "reverse"
    return info.purpose


def _finish(leg: _Leg, intents: Mapping[str, IntentInfo], strategies: Mapping[str, str], account: str) -> Trade:
    size = leg.entry_size
    coin_fields: tuple[Decimal | None, Decimal | None, Decimal | None]
    if leg.inverse:
        # entry/exit "notionals" are coin values: harmonic mean prices, coin P&L valued at the exit price
        entry_price, exit_price = size / leg.entry_notional, size / leg.exit_notional
        gross_coin = leg.sign * (leg.entry_notional - leg.exit_notional)
        rate = exit_price
        gross, fees = gross_coin * rate, leg.fees * rate
        currency, coin_fields = symbol_settlement_currency(leg.symbol), (gross_coin, leg.fees, ZERO)
    else:
        entry_price, exit_price = leg.entry_notional / size, leg.exit_notional / size
        gross, fees = leg.sign * (leg.exit_notional - leg.entry_notional), leg.fees
        rate, currency, coin_fields = _ONE, "usd", (None, None, None)
    return Trade(
        symbol=leg.symbol,
        side=PositionSide.LONG if leg.sign > 0 else PositionSide.SHORT,
        size=size,
        entry_ts_ms=leg.entry_ts,
        exit_ts_ms=leg.exit_ts,
        entry_price=entry_price,
        exit_price=exit_price,
        gross_pnl_usd=gross,
        fees_usd=fees,
        funding_usd=ZERO,
        exit_reason=_exit_reason(leg.last_type, leg.last_cli, intents),
        signal_id=leg.signal_id,
        strategy=strategies.get(leg.signal_id) if leg.signal_id else None,
        mae_usd=leg.low,
        mfe_usd=leg.high,
        currency=currency,
        usd_rate=rate,
        gross_pnl_coin=coin_fields[0],
        fees_coin=coin_fields[1],
        funding_coin=coin_fields[2],
        account=account,
    )


def attribute_funding(trades: list[Trade], funding: Sequence[FundingPayment]) -> tuple[list[Trade], Decimal]:
    """Give each trade the funding paid/received while it was open (module docstring, ``funding_usd``): returns
    the trades in (exit, entry, symbol) time order and the USD-settled payments' total that fell in no trade."""
    by_symbol: dict[str, list[FundingPayment]] = {}
    for p in sorted(funding, key=lambda p: p.ts_ms):
        by_symbol.setdefault(p.symbol, []).append(p)
    times = {s: [p.ts_ms for p in ps] for s, ps in by_symbol.items()}
    used = {s: 0 for s in by_symbol}
    out: list[Trade] = []
    attributed = ZERO
    for t in sorted(trades, key=lambda t: (t.symbol, t.entry_ts_ms, t.exit_ts_ms)):
        pays = by_symbol.get(t.symbol)
        if not pays:
            out.append(t)
            continue
        lo = max(used[t.symbol], bisect.bisect_left(times[t.symbol], t.entry_ts_ms))
        hi = bisect.bisect_right(times[t.symbol], t.exit_ts_ms)
        if hi <= lo:
            out.append(t)
            continue
        used[t.symbol] = hi
        amounts = [p.amount_usd for p in pays[lo:hi]]
        received = sum((a for a in amounts if a > 0), ZERO)
        paid = -sum((a for a in amounts if a < 0), ZERO)
        if t.gross_pnl_coin is not None:  # inverse: payments are in the coin, valued at the trade's rate
            r = t.usd_rate
            out.append(replace(t, funding_coin=received - paid, funding_usd=(received - paid) * r,
                               funding_paid_usd=paid * r, funding_received_usd=received * r))
            continue
        attributed += received - paid
        out.append(replace(t, funding_usd=received - paid, funding_paid_usd=paid, funding_received_usd=received))
    out.sort(key=lambda t: (t.exit_ts_ms, t.entry_ts_ms, t.symbol))
    total = sum((p.amount_usd for p in funding if not is_inverse_symbol(p.symbol)), ZERO)
    return out, total - attributed


def derive_trades(
    fills: Sequence[Fill],
    *,
    intents: Mapping[str, IntentInfo] | None = None,
    strategies: Mapping[str, str] | None = None,
    funding: Sequence[FundingPayment] = (),
    marks: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    account: str = DEFAULT_ACCOUNT,
) -> TradeSet:
    """Walk ``fills`` (any order; sorted here by time, stable) into round-trip trades.

    Args:
        fills: our fills of ONE account, all symbols mixed (fills of several accounts go through
            ``derive_trades_per_account``). Fill fees of None count as 0.
        intents: cliOrdId -> purpose/signal (exit reasons, the signal that opened a trade).
        strategies: signal id -> strategy name.
        funding: funding payments (USD, signed, + received).
        marks: symbol -> (ts_ms, mark price USD) samples sorted by time, for MAE/MFE.
        account: the account the fills belong to, stamped on every trade and open position.

    Returns:
        A ``TradeSet`` (see its docstring). Rules: module docstring.
    """
    walk = TradeWalk(intents=intents, strategies=strategies, marks=marks, account=account)
    walk.feed(sorted(fills, key=lambda f: f.ts_ms))
    closed, legs, realized, fees_total, coin = walk.closed, walk.legs, walk.realized, walk.fees_total, walk.coin
    trades, unattributed = attribute_funding(closed, funding)
    open_positions = walk.open_positions()
    for leg in legs.values():
        if leg.inverse:
            _coin_add(coin, leg.symbol, pnl=leg.realized)
    for p in funding:
        if is_inverse_symbol(p.symbol):
            _coin_add(coin, p.symbol, funding=p.amount_usd)
    return TradeSet(
        closed=trades,
        open=open_positions,
        realized_pnl_usd=realized + sum((leg.realized for leg in legs.values() if not leg.inverse), ZERO),
        fees_usd=fees_total,
        funding_usd=sum((p.amount_usd for p in funding if not is_inverse_symbol(p.symbol)), ZERO),
        unattributed_funding_usd=unattributed,
        coin=coin,
    )


def derive_trades_per_account(
    fills: Sequence[Fill],
    fill_accounts: Sequence[str],
    *,
    intents: Mapping[str, IntentInfo] | None = None,
    strategies: Mapping[str, str] | None = None,
    funding: Sequence[FundingPayment] = (),
    funding_accounts: Sequence[str] = (),
    marks: Mapping[str, Sequence[tuple[int, float]]] | None = None,
) -> dict[str, TradeSet]:
    """``derive_trades`` for each account separately: two accounts' fills are never walked together (two runs
    trading the same symbol on two accounts are two sets of trades, not one set of double size).

    Args:
        fills: fills of any accounts. fill_accounts: the account of each fill (same length and order).
        funding: funding payments of any accounts. funding_accounts: the account of each payment.
        intents, strategies, marks: as ``derive_trades`` (shared: cliOrdIds and signal ids are unique, marks are
            the market's).

    Returns:
        account -> its ``TradeSet``, for every account that has a fill or a funding payment, in the order each
        account first appears in ``fills`` then ``funding``.

    Raises:
        ValueError: ``fill_accounts`` / ``funding_accounts`` do not match ``fills`` / ``funding`` in length.
    """
    return {acct: derive_trades(fs, intents=intents, strategies=strategies, funding=fund, marks=marks, account=acct)
            for acct, (fs, fund) in facts_per_account(fills, fill_accounts, funding, funding_accounts).items()}


def facts_per_account(fills: Sequence[Fill], fill_accounts: Sequence[str], funding: Sequence[FundingPayment],
                      funding_accounts: Sequence[str]) -> dict[str, tuple[list[Fill], list[FundingPayment]]]:
    """account -> (its fills, its funding payments), in the order each account first appears in ``fills`` then
    ``funding`` (the grouping of ``derive_trades_per_account``).

    Raises:
        ValueError: ``fill_accounts`` / ``funding_accounts`` do not match ``fills`` / ``funding`` in length.
    """
    if len(fills) != len(fill_accounts) or len(funding) != len(funding_accounts):
        raise ValueError(f"derive_trades_per_account: {len(fills)} fills with {len(fill_accounts)} accounts, "
                         f"{len(funding)} funding payments with {len(funding_accounts)} accounts")
    out: dict[str, tuple[list[Fill], list[FundingPayment]]] = {}
    for f, acct in zip(fills, fill_accounts, strict=True):
        out.setdefault(acct, ([], []))[0].append(f)
    for p, acct in zip(funding, funding_accounts, strict=True):
        out.setdefault(acct, ([], []))[1].append(p)
    return out

class TradeWalk:
    """The position walk of ONE account's fills (module docstring, "Rules"), resumable: ``derive_trades`` runs one
    over every fill; ``journal.tradecache`` keeps its ``state`` and resumes it over the fills journaled since.

    A walk resumed from ``state`` over later fills gives the same trades as one walk over all the fills when (the
    caller checks it): every later fill is later in time order (``ts_ms``, then journal id) than every fill walked
    before; no intent or signal that a walked fill or an open position refers to arrived since; ``marks`` holds, for
    each symbol, the marks at or after ``last_fill_ms[symbol]`` (the earlier ones were sampled before) and no mark
    older than that arrived since. Funding is not part of the walk (``attribute_funding``).

    Attributes:
        closed: closed trades in the order they closed, funding not yet attributed.
        legs: symbol -> the open position (internal accumulator).
        last_fill_ms: symbol -> time of the last fill walked (UTC ms).
        realized, fees_total, coin: the totals of ``TradeSet`` over the fills this walk fed (not kept by ``state``).
    """

    __slots__ = ("intents", "strategies", "marks", "account", "mark_pos", "legs", "closed", "realized", "fees_total",
                 "coin", "last_fill_ms")

    def __init__(self, *, intents: Mapping[str, IntentInfo] | None = None, strategies: Mapping[str, str] | None = None,
                 marks: Mapping[str, Sequence[tuple[int, float]]] | None = None,
                 account: str = DEFAULT_ACCOUNT) -> None:
        self.intents = intents or {}
        self.strategies = strategies or {}
        self.marks = marks or {}
        self.account = account
        self.mark_pos = dict.fromkeys(self.marks, 0)
        self.legs: dict[str, _Leg] = {}
        self.closed: list[Trade] = []
        self.realized = ZERO
        self.fees_total = ZERO
        self.coin: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        self.last_fill_ms: dict[str, int] = {}

    def open_positions(self) -> list[OpenPosition]:
        """The positions open now, by symbol."""
        return [
            OpenPosition(s, PositionSide.LONG if leg.sign > 0 else PositionSide.SHORT, leg.pos,
                         leg.pos / leg.cost if leg.inverse else leg.cost / leg.pos, leg.entry_ts, self.account)
            for s, leg in sorted(self.legs.items())
        ]

    def state(self) -> dict[str, object]:
        """JSON-ready: the open positions' accumulators (exact Decimal text, MAE/MFE floats) and ``last_fill_ms``."""
        legs = {sym: [leg.sign, str(leg.pos), str(leg.cost), str(leg.entry_notional), str(leg.entry_size),
                      str(leg.exit_notional), str(leg.fees), leg.entry_ts, leg.exit_ts, leg.last_type.value,
                      leg.last_cli, leg.signal_id, leg.low, leg.high, str(leg.realized), leg.inverse]
                for sym, leg in self.legs.items()}
        return {"legs": legs, "last_fill_ms": dict(self.last_fill_ms)}

    @classmethod
    def from_state(cls, doc: Mapping[str, object], **kwargs: object) -> TradeWalk:
        """A walk resumed from ``state`` (``kwargs``: the constructor's). Raises ``KeyError``/``ValueError``/
        ``TypeError`` on a malformed document."""
        walk = cls(**kwargs)  # type: ignore[arg-type]
        legs = doc["legs"]
        last = doc["last_fill_ms"]
        if not isinstance(legs, dict) or not isinstance(last, dict):
            raise ValueError("trade walk state: legs and last_fill_ms must be objects")
        for sym, v in legs.items():
            leg = _Leg.__new__(_Leg)
            leg.symbol = sym
            (leg.sign, pos, cost, entry_n, entry_size, exit_n, fees, leg.entry_ts, leg.exit_ts, last_type,
             leg.last_cli, leg.signal_id, leg.low, leg.high, realized, leg.inverse) = v
            D = Decimal
            leg.pos, leg.cost, leg.entry_notional, leg.entry_size = D(pos), D(cost), D(entry_n), D(entry_size)
            leg.exit_notional, leg.fees, leg.realized = D(exit_n), D(fees), D(realized)
            leg.last_type = FillType(last_type)
            walk.legs[sym] = leg
        walk.last_fill_ms = {str(k): int(v) for k, v in last.items()}
        return walk

    def feed(self, fills: Iterable[Fill]) -> None:
        """Walk ``fills`` (in time order) on from where the walk stands."""
        intents, strategies, marks, mark_pos, legs = self.intents, self.strategies, self.marks, self.mark_pos, self.legs
        closed, coin, account, last_fill_ms = self.closed, self.coin, self.account, self.last_fill_ms
        realized, fees_total = self.realized, self.fees_total
        for f in fills:
            last_fill_ms[f.symbol] = f.ts_ms
            fee = f.fee if f.fee is not None else ZERO
            fees_total += fee
            leg = legs.get(f.symbol)
            series = marks.get(f.symbol)
            if series is not None:
                i = mark_pos[f.symbol]
                while i < len(series) and series[i][0] < f.ts_ms:
                    if leg is not None:
                        leg.sample(series[i][1])
                    i += 1
                mark_pos[f.symbol] = i
            sign = f.side.sign
            inverse = is_inverse_symbol(f.symbol)
            if leg is None:
                info = intents.get(f.cli_ord_id) if f.cli_ord_id else None
                legs[f.symbol] = _Leg(f, sign, f.size, fee, info.signal_id if info else None, inverse)
                if inverse:
                    fees_total -= fee
                    _coin_add(coin, f.symbol, fees=fee)
                continue
            leg.sample(f.price)
            if inverse:
                fees_total -= fee
                _coin_add(coin, f.symbol, fees=fee)
            if sign == leg.sign:  # adding
                value = f.size / f.price if inverse else f.price * f.size
                leg.pos += f.size
                leg.cost += value
                leg.entry_notional += value
                leg.entry_size += f.size
                leg.fees += fee
                continue
            close_q = min(f.size, leg.pos)
            open_q = f.size - close_q
            fee_close = fee if open_q == 0 else (fee * close_q / f.size).quantize(FEE_SPLIT_USD)
            removed = leg.cost if close_q == leg.pos else leg.cost * close_q / leg.pos
            value = close_q / f.price if inverse else f.price * close_q
            # linear: sign x (exit notional - cost); inverse: sign x (coin at entry - coin at exit)
            leg.realized += leg.sign * (removed - value) if inverse else leg.sign * (value - removed)
            leg.cost -= removed
            leg.pos -= close_q
            leg.exit_notional += value
            leg.fees += fee_close
            leg.exit_ts = f.ts_ms
            leg.last_type = f.fill_type
            leg.last_cli = f.cli_ord_id
            if leg.pos == 0:
                # closed: the per-fill sum equals the notional difference, which is exact (no division)
                if inverse:
                    _coin_add(coin, f.symbol, pnl=leg.sign * (leg.entry_notional - leg.exit_notional))
                else:
                    realized += leg.sign * (leg.exit_notional - leg.entry_notional)
                closed.append(_finish(leg, intents, strategies, account))
                del legs[f.symbol]
                if open_q > 0:
                    info = intents.get(f.cli_ord_id) if f.cli_ord_id else None
                    legs[f.symbol] = _Leg(f, sign, open_q, fee - fee_close, info.signal_id if info else None, inverse)
        self.realized, self.fees_total = realized, fees_total


def _coin_add(coin: dict[str, tuple[Decimal, Decimal, Decimal]], symbol: str, *, pnl: Decimal = ZERO,
              fees: Decimal = ZERO, funding: Decimal = ZERO) -> None:
    """Add to the (realised P&L, fees, funding) totals of ``symbol``'s settlement coin."""
    cur = symbol_settlement_currency(symbol)
    p, f, u = coin.get(cur, (ZERO, ZERO, ZERO))
    coin[cur] = (p + pnl, f + fees, u + funding)
