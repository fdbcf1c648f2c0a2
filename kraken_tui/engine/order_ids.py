"""Order and signal identifiers: signal ids, deterministic cliOrdIds and the journal purpose of an exit reason.

Owns: ``make_signal_id``, ``ClientOrderIds`` (the cliOrdId scheme) and ``intent_purpose``; pure functions of
their arguments, shared by the live ``engine.execution.Executor`` and the backtest (which imports only this
module, so a backtest does not load the order client's asyncio and wire modules). ``engine.execution``
re-exports all three.

cliOrdId scheme (spec §4.10): ``kt-<signal_id>-<purpose>`` where ``signal_id`` is ``<run8>-<SYMBOL>-<ts_ms>``
(the first 8 characters of the run id, the symbol, and the close time of the candle that produced the signal,
UTC ms); the protective orders of a position reuse the signal id of the entry that opened it
(``kt-<signal_id>-stop``, ``-tp1``...). A second order with the same base in one run gets ``-1``, ``-2``...
appended, so the same sequence of decisions yields the same ids and no id is used twice. At most 100
characters; a longer base is cut from the left of the signal id.
Must not import: asyncio, the Kraken client, textual.
"""

from __future__ import annotations

from kraken_tui.journal.records import IntentPurpose

__all__ = ["MAX_CLI_ORD_ID", "ClientOrderIds", "intent_purpose", "make_signal_id"]

MAX_CLI_ORD_ID = 100
"""Longest cliOrdId Kraken accepts, characters (Kraken Futures docs, REST v3 "Send order": cliOrdId)."""


def make_signal_id(run_id: str, symbol: str, ts_ms: int) -> str:
    """The journal id of a signal: ``<run8>-<SYMBOL>-<ts_ms>`` (unique per run, symbol and candle close)."""
    return f"{run_id[:8]}-{symbol.upper()}-{ts_ms}"


def intent_purpose(reason: str) -> IntentPurpose:
    """The journal purpose for an exit reason or purpose name (``stop``, ``tp1``, ``time``, ``signal``...).

    Reasons the journal has no purpose for yet (``signal`` until the journal adds it) map to MANUAL.
    """
    try:
        return IntentPurpose(str(reason))
    except ValueError:
        return IntentPurpose.MANUAL


class ClientOrderIds:
    """Deterministic cliOrdIds (module docstring): ``kt-<signal_id>-<purpose>[-n]``, <= 100 chars."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def make(self, signal_id: str, purpose: str) -> str:
        """The next cliOrdId for ``signal_id`` and ``purpose`` (``entry``, ``stop``, ``tp1``...)."""
        tail = f"-{purpose}"
        room = MAX_CLI_ORD_ID - len("kt-") - len(tail) - 4  # 4: room for a "-nnn" counter
        base = f"kt-{signal_id[-room:]}{tail}"
        n = self._used.get(base, 0)
        self._used[base] = n + 1
        return base if n == 0 else f"{base}-{n}"
