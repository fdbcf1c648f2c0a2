"""Turning one journal record into the SQL statements that store it.

Owns: the mapping record type -> (INSERT/UPDATE statement, parameters). Decimals are stored as their
exact text (``str(Decimal)``, read back with ``Decimal(text)``), times as epoch ms integers, feature
dicts as JSON text. Replays are idempotent where the exchange gives an identity: a fill with a known
``fill_id``, a funding payment for the same symbol and hour, an intent with the same cliOrdId, a signal
with the same id are ignored (``ON CONFLICT ... DO NOTHING``, which, unlike ``INSERT OR IGNORE``,
does not also swallow NOT NULL or CHECK violations).
Must not import: aiosqlite, textual, the engine.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from kraken_tui.domain import Fill, Order, OrderResult
from kraken_tui.journal.records import (
    Alert,
    EquitySnapshot,
    FundingPayment,
    IntentRecord,
    OperatorAction,
    ReconciliationDiff,
    RunStarted,
    RunStopped,
    SignalRecord,
    StateChange,
)

__all__ = ["JournalRecord", "Statement", "encode"]

#: Everything the writer accepts.
JournalRecord = (
    Fill | Order | OrderResult | RunStarted | RunStopped | StateChange | OperatorAction | Alert
    | SignalRecord | IntentRecord | FundingPayment | EquitySnapshot | ReconciliationDiff
)
#: One SQL statement and its parameters.
Statement = tuple[str, tuple[object, ...]]

_SQL_RUN = ("INSERT INTO runs(run_id, started_ms, mode, config_hash, version, starting_equity_usd, account) "
            "VALUES (?,?,?,?,?,?,?)")
_SQL_RUN_STOP = "UPDATE runs SET stopped_ms=?, stop_reason=? WHERE run_id=?"
_SQL_EVENT = "INSERT INTO events(run_id, ts_ms, kind, name, previous, reason, source) VALUES (?,?,?,?,?,?,?)"
_SQL_ALERT = "INSERT INTO alerts(run_id, ts_ms, level, symbol, message) VALUES (?,?,?,?,?)"
_SQL_SIGNAL = ("INSERT INTO signals(run_id, ts_ms, signal_id, symbol, side, confidence, strategy, reason, "
               "features, action, rejection_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
               "ON CONFLICT(signal_id) DO NOTHING")
_SQL_INTENT = ("INSERT INTO intents(run_id, ts_ms, cli_ord_id, symbol, side, size, order_type, limit_price, "
               "stop_price, reduce_only, purpose, signal_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
               "ON CONFLICT(cli_ord_id) DO NOTHING")
_SQL_ORDER = ("INSERT INTO orders(run_id, ts_ms, order_id, cli_ord_id, symbol, side, order_type, size, filled, "
              "limit_price, stop_price, reduce_only, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
_SQL_ORDER_EVENT = ("INSERT INTO order_events(run_id, ts_ms, cli_ord_id, order_id, status, event_type, price, "
                    "amount, reason, error) VALUES (?,?,?,?,?,?,?,?,?,?)")
_SQL_FILL = ("INSERT INTO fills(run_id, fill_id, order_id, cli_ord_id, symbol, side, size, price, ts_ms, "
             "fill_type, fee, fee_currency) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(fill_id) DO NOTHING")
_SQL_FUNDING = ("INSERT INTO funding(run_id, symbol, ts_ms, amount_usd, funding_rate) VALUES (?,?,?,?,?) "
                "ON CONFLICT(symbol, ts_ms) DO NOTHING")
_SQL_EQUITY = "INSERT INTO equity(run_id, ts_ms, equity_usd) VALUES (?,?,?)"
_SQL_MARK = "INSERT INTO marks(ts_ms, symbol, mark_price) VALUES (?,?,?)"
_SQL_RECON = ("INSERT INTO reconciliation(run_id, ts_ms, kind, symbol, journal_value, exchange_value, action, "
              "outcome, exchange_size) VALUES (?,?,?,?,?,?,?,?,?)")


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _encode_order_result(r: OrderResult, run_id: str | None) -> list[Statement]:
    ts = r.received_ts_ms if r.received_ts_ms is not None else _now_ms()
    status = r.raw_status or r.status.value
    out: list[Statement] = [
        (_SQL_ORDER_EVENT, (run_id, ts, r.cli_ord_id, r.order_id, status, None, None, None, None, r.error))
    ]
    for ev in r.events:
        out.append((_SQL_ORDER_EVENT, (
            run_id, ts, ev.cli_ord_id or r.cli_ord_id, ev.order_id or r.order_id, status, ev.type.value,
            _d(ev.price), _d(ev.amount), ev.reason, None,
        )))
    return out


def encode(record: JournalRecord, run_id: str | None) -> list[Statement]:
    """The statements that store ``record``, tagged with ``run_id`` (None before any run started).

    Raises:
        TypeError: ``record`` is not one of ``JournalRecord``'s types.
        ValueError: a domain object has a field the journal cannot store (e.g. a fill without a fill id).
    """
    r = record
    if isinstance(r, Fill):
        if not r.fill_id:
            raise ValueError("a fill needs a fill_id to be journaled (it is the idempotency key)")
        return [(_SQL_FILL, (run_id, r.fill_id, r.order_id, r.cli_ord_id, r.symbol, r.side.value, str(r.size),
                             str(r.price), r.ts_ms, r.fill_type.value, _d(r.fee), r.fee_currency))]
    if isinstance(r, IntentRecord):
        return [(_SQL_INTENT, (run_id, r.ts_ms, r.cli_ord_id, r.symbol, r.side.value, str(r.size),
                               r.order_type.value, _d(r.limit_price), _d(r.stop_price), int(r.reduce_only),
                               r.purpose.value, r.signal_id))]
    if isinstance(r, OrderResult):
        return _encode_order_result(r, run_id)
    if isinstance(r, Order):
        ts = r.last_update_ts_ms or r.received_ts_ms or _now_ms()
        return [(_SQL_ORDER, (run_id, ts, r.order_id, r.cli_ord_id, r.symbol, r.side.value, r.order_type,
                              str(r.size), str(r.filled), _d(r.limit_price), _d(r.stop_price),
                              int(r.reduce_only), r.status))]
    if isinstance(r, FundingPayment):
        return [(_SQL_FUNDING, (run_id, r.symbol, r.ts_ms, str(r.amount_usd), str(r.funding_rate)))]
    if isinstance(r, StateChange):
        return [(_SQL_EVENT, (run_id, r.ts_ms, "state", r.state, r.previous, r.reason, r.source.value))]
    if isinstance(r, OperatorAction):
        return [(_SQL_EVENT, (run_id, r.ts_ms, "operator", r.action, None, r.reason, r.source.value))]
    if isinstance(r, Alert):
        return [(_SQL_ALERT, (run_id, r.ts_ms, r.level, r.symbol, r.message))]
    if isinstance(r, SignalRecord):
        features = json.dumps(r.features, sort_keys=True, default=str, allow_nan=False)
        return [(_SQL_SIGNAL, (run_id, r.ts_ms, r.signal_id, r.symbol, r.side, float(r.confidence), r.strategy,
                               r.reason, features, r.action, r.rejection_reason))]
    if isinstance(r, EquitySnapshot):
        out: list[Statement] = [(_SQL_EQUITY, (run_id, r.ts_ms, str(r.equity_usd)))]
        out.extend((_SQL_MARK, (r.ts_ms, sym, float(px))) for sym, px in sorted(r.marks.items()))
        return out
    if isinstance(r, ReconciliationDiff):
        outcome = None if r.outcome is None else str(r.outcome)
        return [(_SQL_RECON, (run_id, r.ts_ms, r.kind, r.symbol, r.journal_value, r.exchange_value, r.action,
                              outcome, _d(r.exchange_size)))]
    if isinstance(r, RunStarted):
        return [(_SQL_RUN, (r.run_id, r.ts_ms, r.mode, r.config_hash, r.version, _d(r.starting_equity_usd),
                             r.account_name))]
    if isinstance(r, RunStopped):
        return [(_SQL_RUN_STOP, (r.ts_ms, r.reason, run_id))]
    raise TypeError(f"the journal cannot store a {type(record).__name__}")
