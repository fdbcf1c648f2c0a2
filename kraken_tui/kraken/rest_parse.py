"""Kraken Futures REST market-data JSON -> domain models (instruments, tickers, funding, candles, log).

Owns: parsers for the public and history bodies (spec §4.2 instruments, §4.3 tickers, §4.5 funding
history, §4.18 account log, §6 charts candles) and the small shared readers (symbols, sides, lists)
the other ``rest_parse_*`` modules reuse. Numbers are accepted as JSON numbers or strings, symbols
are upper-cased (spec §1 "Symbols are case-insensitive"). Every failure is a ``ProtocolError`` naming
the endpoint, the list element and the field.
Must not import: httpx, websockets, aiohttp, textual.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from kraken_tui.domain import (
    AccountLogEntry,
    Candle,
    FundingRate,
    Instrument,
    InstrumentType,
    MarginLevel,
    Side,
    Ticker,
)
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.fields import (
    get_bool,
    get_decimal,
    get_float,
    get_int,
    get_str,
    get_ts_ms,
    require_dict,
)

__all__ = [
    "get_list",
    "get_side",
    "get_symbol",
    "iter_rows",
    "parse_account_log",
    "parse_candles",
    "parse_funding_rates",
    "parse_instrument",
    "parse_instruments",
    "parse_ticker",
    "parse_tickers",
    "relative_funding_rate",
]

log = logging.getLogger(__name__)

_TYPES = {t.value: t for t in InstrumentType}
_SIDES = {s.value: s for s in Side}


def get_list(obj: Any, key: str, source: str) -> list[Any]:
    """Read a required JSON array. Raises ProtocolError when missing or not an array."""
    body = require_dict(obj, source)
    v = body.get(key)
    if not isinstance(v, list):
        raise ProtocolError(
            source, "missing" if v is None else f"expected an array, got {type(v).__name__}", field=key
        )
    return v


def get_symbol(obj: dict[str, Any], key: str, source: str, *, required: bool = True) -> str | None:
    """Read a symbol and upper-case it (``pi_xbtusd`` -> ``PI_XBTUSD``). Raises ProtocolError when empty."""
    s = get_str(obj, key, source, required=required)
    if s is None:
        return None
    if not s.strip():
        raise ProtocolError(source, "empty symbol", field=key)
    return s.strip().upper()


def get_side(obj: dict[str, Any], key: str, source: str) -> Side:
    """Read ``buy``/``sell`` (any case). Raises ProtocolError otherwise."""
    s = get_str(obj, key, source)
    side = _SIDES.get(s) or _SIDES.get(s.lower())
    if side is None:
        raise ProtocolError(source, f"expected buy or sell, got {s!r}", field=key)
    return side


def iter_rows(obj: Any, key: str, source: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Yield (element, where) for each object of the required array ``obj[key]``; ``where`` names the
    element (``/derivatives/api/v3/fills fills[3]``). Raises ProtocolError for a non-object element."""
    for i, raw in enumerate(get_list(obj, key, source)):
        where = f"{source} {key}[{i}]"
        yield require_dict(raw, where), where


# ----------------------------------------------------------------------------- instruments


def _margin_levels(obj: dict[str, Any], where: str) -> tuple[MarginLevel, ...]:
    key = "marginLevels" if isinstance(obj.get("marginLevels"), list) else "retailMarginLevels"
    if obj.get(key) is None:
        return ()
    levels = []
    for lv, w in iter_rows(obj, key, where):
        threshold = get_decimal(lv, "numNonContractUnits", w, required=False, nonneg=True)
        if threshold is None:
            threshold = get_decimal(lv, "contracts", w, nonneg=True)
        levels.append(
            MarginLevel(
                threshold=threshold,
                initial_margin_rate=get_decimal(lv, "initialMargin", w, nonneg=True),
                maintenance_margin_rate=get_decimal(lv, "maintenanceMargin", w, nonneg=True),
            )
        )
    return tuple(sorted(levels, key=lambda m: m.threshold))


def _base_of(symbol: str) -> str:
    core = symbol.split("_")[1] if "_" in symbol else symbol
    return core[:-3] if core.endswith("USD") and len(core) > 3 else core


def parse_instrument(obj: Any, where: str) -> Instrument | None:
    """One ``instruments[]`` element -> Instrument (spec §4.2, §8.2), or None for a non-contract.

    Entries whose ``type`` is not a contract family (``spot index`` rows, which have no tickSize) are
    not instruments and return None. ``lot_size = 10 ** -contractValueTradePrecision`` (precision may
    be negative; when absent, as in 2021 data, the lot is 1 contract). Margin tiers come from
    ``marginLevels``, else ``retailMarginLevels``; thresholds are ``numNonContractUnits`` (USD, PF_)
    or ``contracts`` (PI_).

    Raises:
        ProtocolError: a contract entry lacks ``symbol``/``tickSize`` or has a malformed number.
    """
    obj = require_dict(obj, where)
    symbol = get_symbol(obj, "symbol", where)
    type_raw = get_str(obj, "type", where)
    itype = _TYPES.get(type_raw)
    if itype is None:
        log.debug("instruments: %s has type %r (not a contract); skipped", symbol, type_raw)
        return None
    precision = get_int(obj, "contractValueTradePrecision", where, required=False)
    if precision is not None and not -18 <= precision <= 18:
        raise ProtocolError(where, f"out of range: {precision}", field="contractValueTradePrecision")
    lot = Decimal(1).scaleb(-precision) if precision is not None else Decimal(1)
    base = get_str(obj, "base", where, required=False)
    return Instrument(
        symbol=symbol,  # type: ignore[arg-type]
        type=itype,
        tick_size=get_decimal(obj, "tickSize", where, positive=True),
        contract_size=get_decimal(obj, "contractSize", where, required=False, positive=True) or Decimal(1),
        lot_size=lot,
        max_position_size=get_decimal(obj, "maxPositionSize", where, required=False, nonneg=True),
        margin_levels=_margin_levels(obj, where),
        funding_rate_coefficient=get_decimal(obj, "fundingRateCoefficient", where, required=False),
        max_relative_funding_rate=get_decimal(
            obj, "maxRelativeFundingRate", where, required=False, nonneg=True
        ),
        post_only=bool(get_bool(obj, "postOnly", where, required=False)),
        tradeable=get_bool(obj, "tradeable", where, required=False) is not False,
        base=(base or _base_of(symbol)).upper(),  # type: ignore[arg-type]
        quote=(get_str(obj, "quote", where, required=False) or "USD").upper(),
    )


def parse_instruments(body: Any, endpoint: str) -> list[Instrument]:
    """``GET /derivatives/api/v3/instruments`` body -> contracts (index rows dropped, see parse_instrument).

    Raises:
        ProtocolError: ``instruments`` missing or an entry malformed (names the element index).
    """
    items = get_list(body, "instruments", endpoint)
    out = []
    for i in range(len(items)):
        inst = parse_instrument(items[i], f"{endpoint} instruments[{i}]")
        if inst is not None:
            out.append(inst)
    return out


# ----------------------------------------------------------------------------- tickers


def relative_funding_rate(symbol: str, absolute: float | None, price: float | None) -> float | None:
    """Kraken's absolute funding rate -> relative rate per hour (spec §8.3).

    PF_/FF_ (linear): ``absolute / price``; PI_/FI_ (inverse): ``absolute * price``. None when either
    input is missing, the price is not positive, or the symbol is neither family.
    """
    if absolute is None or price is None or price <= 0:
        return None
    if symbol.startswith(("PF_", "FF_")):
        return absolute / price
    if symbol.startswith(("PI_", "FI_")):
        return absolute * price
    return None


def parse_ticker(obj: Any, where: str, server_ts_ms: int | None = None) -> Ticker:
    """One ticker object -> Ticker (spec §4.3). ``funding_rate`` is relative per hour (spec §8.3).

    ``ts_ms`` is the response's ``serverTime`` when given, else the ticker's ``lastTime``.

    Raises:
        ProtocolError: ``symbol`` missing or any present number malformed.
    """
    obj = require_dict(obj, where)
    symbol = get_symbol(obj, "symbol", where)
    mark = get_float(obj, "markPrice", where, required=False)
    f_abs = get_float(obj, "fundingRate", where, required=False)
    fp_abs = get_float(obj, "fundingRatePrediction", where, required=False)
    last_ts = get_ts_ms(obj, "lastTime", where, required=False)
    return Ticker(
        symbol=symbol,  # type: ignore[arg-type]
        ts_ms=server_ts_ms if server_ts_ms is not None else last_ts,
        last=get_float(obj, "last", where, required=False),
        mark_price=mark,
        index_price=get_float(obj, "indexPrice", where, required=False),
        bid=get_float(obj, "bid", where, required=False),
        ask=get_float(obj, "ask", where, required=False),
        bid_size=get_float(obj, "bidSize", where, required=False),
        ask_size=get_float(obj, "askSize", where, required=False),
        funding_rate=relative_funding_rate(symbol, f_abs, mark),  # type: ignore[arg-type]
        funding_rate_prediction=relative_funding_rate(symbol, fp_abs, mark),  # type: ignore[arg-type]
        funding_rate_abs=f_abs,
        funding_rate_prediction_abs=fp_abs,
        open_interest=get_float(obj, "openInterest", where, required=False),
        volume_24h=get_float(obj, "vol24h", where, required=False),
        suspended=bool(get_bool(obj, "suspended", where, required=False)),
        post_only=bool(get_bool(obj, "postOnly", where, required=False)),
    )


def parse_tickers(body: Any, endpoint: str) -> list[Ticker]:
    """``GET /tickers`` body -> tickers, or ``GET /tickers/{symbol}`` (key ``ticker``) -> one ticker.

    Raises:
        ProtocolError: neither ``tickers`` nor ``ticker`` present, or an element malformed.
    """
    body = require_dict(body, endpoint)
    server = get_ts_ms(body, "serverTime", endpoint, required=False)
    if "tickers" not in body and isinstance(body.get("ticker"), dict):
        return [parse_ticker(body["ticker"], f"{endpoint} ticker", server)]
    items = get_list(body, "tickers", endpoint)
    return [parse_ticker(items[i], f"{endpoint} tickers[{i}]", server) for i in range(len(items))]


# ----------------------------------------------------------------------------- funding history


def parse_funding_rates(body: Any, endpoint: str, symbol: str) -> list[FundingRate]:
    """Funding history (spec §4.5) -> FundingRate list, ascending by ``ts_ms``.

    ``funding_rate`` = ``relativeFundingRate`` (relative per hour), ``funding_rate_abs`` = ``fundingRate``.

    Raises:
        ProtocolError: ``rates`` missing, or a row lacks ``timestamp``/``relativeFundingRate``.
    """
    out = []
    for row, w in iter_rows(body, "rates", endpoint):
        out.append(
            FundingRate(
                symbol=symbol.upper(),
                ts_ms=get_ts_ms(row, "timestamp", w),
                funding_rate=get_float(row, "relativeFundingRate", w),
                funding_rate_abs=get_float(row, "fundingRate", w, required=False),
            )
        )
    out.sort(key=lambda r: r.ts_ms)
    return out


# ----------------------------------------------------------------------------- charts


def parse_candles(body: Any, endpoint: str) -> tuple[list[Candle], bool]:
    """Charts candles (spec §6) -> (candles ascending by open time, ``more_candles``).

    ``time`` is epoch ms; OHLC and volume are strings or numbers (volume absent -> 0).

    Raises:
        ProtocolError: ``candles`` missing, a row malformed, or ``high < low``.
    """
    out = []
    for row, w in iter_rows(body, "candles", endpoint):
        c = Candle(
            ts_ms=get_ts_ms(row, "time", w),
            open=get_float(row, "open", w),
            high=get_float(row, "high", w),
            low=get_float(row, "low", w),
            close=get_float(row, "close", w),
            volume=get_float(row, "volume", w, required=False, nonneg=True) or 0.0,
        )
        if c.high < c.low:
            raise ProtocolError(w, f"high {c.high} < low {c.low}", field="high")
        out.append(c)
    out.sort(key=lambda c: c.ts_ms)
    more = get_bool(require_dict(body, endpoint), "more_candles", endpoint, required=False)
    return out, bool(more)


# ----------------------------------------------------------------------------- account log


def parse_account_log(body: Any, endpoint: str) -> list[AccountLogEntry]:
    """History account log (spec §4.18) -> AccountLogEntry list in the order Kraken sent.

    ``asset`` and ``contract`` are upper-cased (``pf_dogeusd`` -> ``PF_DOGEUSD``); money fields are
    Decimal in ``asset`` units; ``funding_rate`` is Kraken's absolute rate.

    Raises:
        ProtocolError: ``logs`` missing, or a row lacks ``id``/``date``/``asset``/``info`` or has a
            malformed number.
    """
    out = []
    for row, w in iter_rows(body, "logs", endpoint):

        def dec(key: str, row: dict[str, Any] = row, w: str = w) -> Decimal | None:
            return get_decimal(row, key, w, required=False)

        out.append(
            AccountLogEntry(
                id=get_int(row, "id", w),
                ts_ms=get_ts_ms(row, "date", w),
                asset=get_str(row, "asset", w).upper(),
                info=get_str(row, "info", w),
                contract=get_symbol(row, "contract", w, required=False),
                old_balance=dec("old_balance"),
                new_balance=dec("new_balance"),
                realized_pnl=dec("realized_pnl"),
                fee=dec("fee"),
                funding_rate=dec("funding_rate"),
                realized_funding=dec("realized_funding"),
                trade_price=dec("trade_price"),
                mark_price=dec("mark_price"),
                liquidation_fee=dec("liquidation_fee"),
                execution=get_str(row, "execution", w, required=False),
            )
        )
    return out
