"""Kraken Futures private REST reads -> domain models: accounts, positions, open orders, fills, leverage.

Owns: parsers for ``accounts`` (spec §4.6, flex -> ``domain.Account``; inverse margin accounts and
the cash wallet kept as ``InverseMarginAccount`` / balances), ``openpositions`` (§4.7),
``openorders`` (§4.8, including untriggered stop/take-profit orders), ``fills`` (§4.9) and
``leveragepreferences`` (§4.17). Failures are ``ProtocolError`` naming endpoint, element and field.
Must not import: httpx, websockets, aiohttp, textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kraken_tui.domain import (
    ZERO,
    Account,
    Fill,
    FillType,
    LeveragePreference,
    Order,
    Position,
    PositionSide,
    TriggerSignal,
)
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.fields import get_bool, get_decimal, get_str, get_ts_ms, require_dict
from kraken_tui.kraken.rest_parse import get_side, get_symbol, iter_rows

__all__ = [
    "AccountsSnapshot",
    "InverseMarginAccount",
    "parse_accounts",
    "parse_fills",
    "parse_leverage_preferences",
    "parse_open_orders",
    "parse_open_positions",
    "parse_trigger_signal",
]

_FILL_TYPES = {t.value: t for t in FillType}
#: Kraken's trigger-signal spellings (openorders ``spot``, events ``mark_price``/``SPOT_PRICE``...).
_SIGNALS = {
    "mark": TriggerSignal.MARK,
    "mark_price": TriggerSignal.MARK,
    "index": TriggerSignal.INDEX,
    "spot": TriggerSignal.INDEX,
    "spot_price": TriggerSignal.INDEX,
    "index_price": TriggerSignal.INDEX,
    "last": TriggerSignal.LAST,
    "last_price": TriggerSignal.LAST,
}


def parse_trigger_signal(obj: dict[str, Any], key: str, where: str) -> TriggerSignal | None:
    """Read a trigger signal in any of Kraken's spellings (``spot`` = index, spec §4.8, §4.10, §4.16).

    Raises:
        ProtocolError: present but not a known signal.
    """
    s = get_str(obj, key, where, required=False)
    if s is None:
        return None
    sig = _SIGNALS.get(s.lower())
    if sig is None:
        raise ProtocolError(where, f"unknown trigger signal {s!r}", field=key)
    return sig


@dataclass(frozen=True, slots=True)
class InverseMarginAccount:
    """A single-collateral inverse margin account (``fi_xbtusd``..., spec §4.6), figures in ``currency``.

    ``portfolio_value`` (pv), ``available_funds`` (af), ``initial_margin`` (im), ``maintenance_margin``
    (mm); None when the answer lacks them. ``balances`` maps a balance key to its quantity.
    """

    name: str
    currency: str
    portfolio_value: Decimal | None
    available_funds: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    balances: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountsSnapshot:
    """The whole ``accounts`` answer: the flex (multi-collateral) account when present, the inverse
    margin accounts by upper-case name, and the cash (holding) wallet balances by upper-case currency."""

    flex: Account | None
    inverse: dict[str, InverseMarginAccount] = field(default_factory=dict)
    cash: dict[str, Decimal] = field(default_factory=dict)


def _balances(obj: dict[str, Any], where: str) -> dict[str, Decimal]:
    raw = obj.get("balances")
    if raw is None:
        return {}
    raw = require_dict(raw, where, "balances")
    return {k.upper(): get_decimal(raw, k, f"{where} balances") for k in raw}


def _flex(obj: dict[str, Any], w: str) -> Account:
    def req(key: str) -> Decimal:
        return get_decimal(obj, key, w)

    currencies: dict[str, Decimal] = {}
    raw = obj.get("currencies")
    if raw is not None:
        for cur, entry in require_dict(raw, w, "currencies").items():
            e = require_dict(entry, f"{w} currencies", cur)
            currencies[cur.upper()] = get_decimal(e, "quantity", f"{w} currencies.{cur}")
    im = req("initialMargin")
    return Account(
        balance_value_usd=req("balanceValue"),
        portfolio_value_usd=req("portfolioValue"),
        collateral_value_usd=req("collateralValue"),
        margin_equity_usd=req("marginEquity"),
        available_margin_usd=req("availableMargin"),
        initial_margin_usd=im,
        initial_margin_with_orders_usd=get_decimal(obj, "initialMarginWithOrders", w, required=False) or im,
        maintenance_margin_usd=req("maintenanceMargin"),
        unrealized_pnl_usd=req("pnl"),
        unrealized_funding_usd=get_decimal(obj, "unrealizedFunding", w, required=False) or ZERO,
        currencies=currencies,
    )


def _inverse(name: str, obj: dict[str, Any], w: str) -> InverseMarginAccount:
    aux = require_dict(obj.get("auxiliary") or {}, w, "auxiliary")
    mr = require_dict(obj.get("marginRequirements") or {}, w, "marginRequirements")
    return InverseMarginAccount(
        name=name.upper(),
        currency=(get_str(obj, "currency", w, required=False) or "").upper(),
        portfolio_value=get_decimal(aux, "pv", f"{w} auxiliary", required=False),
        available_funds=get_decimal(aux, "af", f"{w} auxiliary", required=False),
        initial_margin=get_decimal(mr, "im", f"{w} marginRequirements", required=False),
        maintenance_margin=get_decimal(mr, "mm", f"{w} marginRequirements", required=False),
        balances=_balances(obj, w),
    )


def parse_accounts(body: Any, endpoint: str) -> AccountsSnapshot:
    """``GET /accounts`` body -> AccountsSnapshot (spec §4.6).

    The account whose ``type`` is ``multiCollateralMarginAccount`` (normally ``flex``) becomes
    ``domain.Account`` (USD figures; ``pnl`` -> unrealized P&L); ``marginAccount`` entries become
    ``InverseMarginAccount``; ``cashAccount`` balances go to ``cash``; other types are ignored.

    Raises:
        ProtocolError: ``accounts`` missing, or a flex figure missing/malformed.
    """
    accounts = require_dict(require_dict(body, endpoint).get("accounts"), endpoint, "accounts")
    flex: Account | None = None
    inverse: dict[str, InverseMarginAccount] = {}
    cash: dict[str, Decimal] = {}
    for name, raw in accounts.items():
        w = f"{endpoint} accounts.{name}"
        obj = require_dict(raw, w)
        kind = obj.get("type")
        if kind == "multiCollateralMarginAccount" or (kind is None and name == "flex"):
            flex = _flex(obj, w)
        elif kind == "marginAccount":
            inverse[name.upper()] = _inverse(name, obj, w)
        elif kind == "cashAccount":
            cash = _balances(obj, w)
    return AccountsSnapshot(flex=flex, inverse=inverse, cash=cash)


def parse_open_positions(body: Any, endpoint: str) -> list[Position]:
    """``GET /openpositions`` -> Position list (spec §4.7). No liquidation price on REST (None).

    Raises:
        ProtocolError: ``openPositions`` missing (CCXT #29710: never read as "no positions"), or a
            row lacks ``symbol``/``side``/``size``/``price``.
    """
    out = []
    for row, w in iter_rows(body, "openPositions", endpoint):
        side_s = (get_str(row, "side", w) or "").lower()
        if side_s not in ("long", "short"):
            raise ProtocolError(w, f"expected long or short, got {side_s!r}", field="side")
        out.append(
            Position(
                symbol=get_symbol(row, "symbol", w),  # type: ignore[arg-type]
                side=PositionSide(side_s),
                size=get_decimal(row, "size", w, nonneg=True),
                entry_price=get_decimal(row, "price", w, nonneg=True),
                ts_ms=get_ts_ms(row, "fillTime", w, required=False),
                unrealized_funding=get_decimal(row, "unrealizedFunding", w, required=False),
                unrealized_pnl=get_decimal(row, "unrealizedPnl", w, required=False),
                max_fixed_leverage=get_decimal(row, "maxFixedLeverage", w, required=False),
            )
        )
    return out


def parse_open_orders(body: Any, endpoint: str) -> list[Order]:
    """``GET /openorders`` -> Order list incl. untriggered triggers (spec §4.8).

    ``size`` = ``unfilledSize``, ``filled`` = ``filledSize``; ``triggerSignal`` ``spot`` -> INDEX.

    Raises:
        ProtocolError: ``openOrders`` missing, or a row lacks ``order_id``/``symbol``/``side``/
            ``orderType``/``unfilledSize``.
    """
    out = []
    for row, w in iter_rows(body, "openOrders", endpoint):
        out.append(
            Order(
                order_id=get_str(row, "order_id", w),
                symbol=get_symbol(row, "symbol", w),  # type: ignore[arg-type]
                side=get_side(row, "side", w),
                order_type=get_str(row, "orderType", w),
                size=get_decimal(row, "unfilledSize", w, nonneg=True),
                filled=get_decimal(row, "filledSize", w, required=False, nonneg=True) or ZERO,
                limit_price=get_decimal(row, "limitPrice", w, required=False),
                stop_price=get_decimal(row, "stopPrice", w, required=False),
                trigger_signal=parse_trigger_signal(row, "triggerSignal", w),
                reduce_only=bool(get_bool(row, "reduceOnly", w, required=False)),
                cli_ord_id=get_str(row, "cliOrdId", w, required=False),
                status=get_str(row, "status", w, required=False) or "untouched",
                received_ts_ms=get_ts_ms(row, "receivedTime", w, required=False),
                last_update_ts_ms=get_ts_ms(row, "lastUpdateTime", w, required=False),
            )
        )
    return out


def parse_fills(body: Any, endpoint: str) -> list[Fill]:
    """``GET /fills`` -> Fill list, newest first as Kraken sends (spec §4.9). REST fills have no fee.

    Raises:
        ProtocolError: ``fills`` missing or a row malformed. An unknown ``fillType`` becomes
            ``FillType.OTHER`` (a fill of a new kind still changes the position; dropping it would lose it).
    """
    out = []
    for row, w in iter_rows(body, "fills", endpoint):
        ft = get_str(row, "fillType", w)
        out.append(
            Fill(
                fill_id=get_str(row, "fill_id", w),
                order_id=get_str(row, "order_id", w),
                symbol=get_symbol(row, "symbol", w),  # type: ignore[arg-type]
                side=get_side(row, "side", w),
                size=get_decimal(row, "size", w, positive=True),
                price=get_decimal(row, "price", w, positive=True),
                ts_ms=get_ts_ms(row, "fillTime", w),
                fill_type=_FILL_TYPES.get(ft, FillType.OTHER),
                cli_ord_id=get_str(row, "cliOrdId", w, required=False),
            )
        )
    return out


def parse_leverage_preferences(body: Any, endpoint: str) -> list[LeveragePreference]:
    """``GET /leveragepreferences`` -> isolated-margin symbols with max leverage (spec §4.17).

    A symbol absent from the list is in cross margin. ``maxLeverage`` may be ``10`` or ``"5.00"``.

    Raises:
        ProtocolError: ``leveragePreferences`` missing or a row malformed.
    """
    out = []
    for row, w in iter_rows(body, "leveragePreferences", endpoint):
        out.append(
            LeveragePreference(
                symbol=get_symbol(row, "symbol", w),  # type: ignore[arg-type]
                max_leverage=get_decimal(row, "maxLeverage", w, positive=True),
            )
        )
    return out
