"""``external``: signals from an outside model (e.g. an AI service) delivered as JSON lines.

Owns: ``parse_signal_line`` (one JSON line -> ``Signal`` or ``DataFileError``) and ``ExternalSignals``
(the strategy: keeps the newest accepted signal per symbol and hands it out on the next candle close).
Reading the file or socket is ``external_io``'s job; it calls ``ExternalSignals.feed_line``.

Line format (one JSON object per line, UTF-8):
``{"ts_ms": 1756561260000?, "symbol": "PF_XBTUSD", "side": "long|short|flat", "confidence": 0..1,
"reason": "..."?, "features": {"name": number, ...}?}`` - ``?`` marks optional fields; unknown fields are
ignored. A bad line is logged as a ``DataFileError`` naming the source and line number and counted in
``errors``; it never stops the reader. Accepted signals below ``min_confidence``, or older than
``max_age_s`` at the candle close that would deliver them, are dropped with a logged reason (kept in
``dropped``).
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from kraken_tui.domain import Candle
from kraken_tui.errors import DataFileError

from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import Param

if TYPE_CHECKING:
    from logging import Logger

__all__ = ["ExternalOutcome", "ExternalSignals", "parse_signal_line"]


def _log() -> Logger:
    """This module's logger, ``logging`` imported on first use (a backtest without external signals never
    logs here, and importing ``logging`` is a measurable part of a short command's start-up)."""
    import logging

    return logging.getLogger(__name__)


MAX_LINE_CHARS = 65_536
MAX_PENDING_SYMBOLS = 256


def _bad(source: str, line_no: int | None, reason: str, field: str | None = None) -> DataFileError:
    return DataFileError(source, reason, line=line_no, field=field)


def parse_signal_line(line: str, *, source: str = "<external>", line_no: int | None = None) -> Signal:
    """Parse one JSON line of the external signal format (module docstring) into a ``Signal``.

    Args:
        line: the text, with or without the trailing newline.
        source: file path or socket address, for error messages.
        line_no: 1-based line number (file) or message number (socket).

    Returns:
        A Signal with ``strategy="external"``; ``reason`` defaults to "external model".

    Raises:
        DataFileError: not JSON, not an object, too long, or a field missing/of the wrong type/out of
            range; ``path`` = source, ``line`` = line_no, ``field`` = the JSON field at fault.
    """
    if len(line) > MAX_LINE_CHARS:
        raise _bad(source, line_no, f"line longer than {MAX_LINE_CHARS} characters")
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _bad(source, line_no, f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise _bad(source, line_no, f"expected a JSON object, got {type(obj).__name__}")
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise _bad(source, line_no, "missing or not a non-empty string", "symbol")
    side = obj.get("side")
    if side not in ("long", "short", "flat"):
        raise _bad(source, line_no, f"expected 'long', 'short' or 'flat', got {side!r:.40}", "side")
    conf = obj.get("confidence")
    if (
        isinstance(conf, bool)
        or not isinstance(conf, int | float)
        or not math.isfinite(conf)
        or not 0 <= conf <= 1
    ):
        raise _bad(source, line_no, f"expected a number in 0..1, got {conf!r:.40}", "confidence")
    ts_ms = obj.get("ts_ms")
    if ts_ms is not None and (isinstance(ts_ms, bool) or not isinstance(ts_ms, int) or ts_ms < 0):
        raise _bad(source, line_no, f"expected epoch milliseconds (integer >= 0), got {ts_ms!r:.40}", "ts_ms")
    reason = obj.get("reason", "external model")
    if not isinstance(reason, str):
        raise _bad(source, line_no, "expected a string", "reason")
    features = obj.get("features", {})
    if not isinstance(features, dict):
        raise _bad(source, line_no, "expected an object of numbers", "features")
    clean: dict[str, float] = {}
    for k, v in features.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _bad(source, line_no, f"feature {k[:40]!r} is not a finite number", "features")
        clean[k] = float(v)
    return Signal(
        symbol.strip(), SignalSide(side), float(conf), reason[:500], clean, ts_ms=ts_ms, strategy="external"
    )


@dataclass(frozen=True, slots=True)
class ExternalOutcome:
    """What became of one external line or signal, for the journal: ``signal`` the parsed signal (None for a
    line that did not parse), ``rejection`` the reason it was refused (None when queued for delivery),
    ``source`` the file, pipe, socket or webhook it came from, ``line_no`` its number there."""

    source: str
    line_no: int | None
    signal: Signal | None
    rejection: str | None


class ExternalSignals(StrategyBase):
    """Delivers external signals at candle closes of the signal timeframe.

    Parameters (defaults): ``min_confidence`` 0.6 (0..1; lower ones are dropped), ``max_age_s`` 300
    (seconds between a signal's ``ts_ms`` and the delivering candle close; older ones are dropped),
    ``path`` "" (a JSON-lines file to tail), ``socket`` "" (``unix:/path`` or ``tcp:127.0.0.1:PORT``).
    Path and socket are read by ``external_io.run_external_reader`` (the ``[external]`` config section names
    more readers: a pipe and a loopback webhook). ``load_history`` loads a timestamped signal file for a
    backtest: each signal is delivered at the first candle close at or after its ``ts_ms`` (no look-ahead).

    Attributes:
        errors: count of bad lines. dropped: the last 100 drop reasons. accepted: count of accepted lines.
        live: a reader (or a loaded history) feeds this source; the ensemble's ML slot counts only then.
        listener: called with an ``ExternalOutcome`` for every line parsed or refused and every signal dropped
            (the engine journals them); None = only logged.
    """

    name = "external"
    confidence_sized: ClassVar[bool] = True
    PARAMS = (
        Param("min_confidence", 0.6, "lowest confidence accepted, 0..1", float, 0, 1),
        Param("max_age_s", 300.0, "oldest signal delivered, seconds", float, 0, 86_400),
        Param("path", "", "JSON-lines file to tail; empty = none", str),
        Param("socket", "", "unix:/path or tcp:127.0.0.1:PORT to listen on; empty = none", str),
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self._pending: dict[str, Signal] = {}
        self._history: deque[tuple[int, Signal]] = deque()
        self.errors = 0
        self.accepted = 0
        self.dropped: deque[str] = deque(maxlen=100)
        self.live = False
        self.listener: Callable[[ExternalOutcome], None] | None = None

    def _tell(self, outcome: ExternalOutcome) -> None:
        if self.listener is not None:
            try:
                self.listener(outcome)
            except Exception:
                _log().exception("external signal listener failed")

    def _drop(self, reason: str, sig: Signal | None = None, source: str = "", line_no: int | None = None) -> None:
        self.dropped.append(reason)
        _log().info("external signal dropped: %s", reason)
        self._tell(ExternalOutcome(source, line_no, sig, reason))

    def reject(self, reason: str, *, source: str, line_no: int | None = None) -> None:
        """A line refused before parsing (e.g. a webhook request with a bad secret): counted and reported."""
        self.errors += 1
        _log().warning("external signal refused from %s: %s", source, reason)
        self._tell(ExternalOutcome(source, line_no, None, reason))

    def load_history(self, lines: Iterable[str], *, source: str) -> int:
        """Load a timestamped signal file for a backtest (every line needs ``ts_ms``); bad lines are counted
        and reported as ``feed_line`` does. Returns the number of signals loaded; marks the source live."""
        loaded: list[tuple[int, Signal]] = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                sig = parse_signal_line(line, source=source, line_no=n)
            except DataFileError as exc:
                self.reject(str(exc), source=source, line_no=n)
                continue
            if sig.ts_ms is None:
                self.reject("a backtest signal needs ts_ms (epoch milliseconds)", source=source, line_no=n)
                continue
            loaded.append((sig.ts_ms, _with_source(sig, source)))
        loaded.sort(key=lambda t: t[0])
        self._history.extend(loaded)
        self.live = True
        return len(loaded)

    def feed_line(
        self, line: str, *, source: str = "<external>", line_no: int | None = None
    ) -> Signal | None:
        """Parse and queue one line; never raises. Returns the accepted Signal, or None (bad or dropped).

        ``ts_ms`` missing in the line is not filled in here; such a signal is never too old.
        """
        if not line.strip():
            return None
        try:
            sig = parse_signal_line(line, source=source, line_no=line_no)
        except DataFileError as exc:
            self.errors += 1
            _log().warning("bad external signal line: %s", exc)
            self._tell(ExternalOutcome(source, line_no, None, str(exc)))
            return None
        return self._queue(_with_source(sig, source), source, line_no)

    def _queue(self, sig: Signal, source: str, line_no: int | None) -> Signal | None:
        if sig.confidence < self.p["min_confidence"]:
            self._drop(
                f"{sig.symbol} {sig.side}: confidence {sig.confidence:g} below {self.p['min_confidence']:g}",
                sig, source, line_no)
            return None
        if sig.symbol not in self._pending and len(self._pending) >= MAX_PENDING_SYMBOLS:
            self._drop(f"{sig.symbol}: more than {MAX_PENDING_SYMBOLS} symbols pending", sig, source, line_no)
            return None
        old = self._pending.get(sig.symbol)
        if old is not None:
            self._drop(f"{old.symbol} {old.side}: superseded by a newer signal before delivery", old, source)
        self._pending[sig.symbol] = sig
        self.accepted += 1
        self._tell(ExternalOutcome(source, line_no, sig, None))
        return sig

    def take(self, symbol: str, now_ms: int) -> Signal | None:
        """Remove and return the pending signal of ``symbol`` if it is not older than ``max_age_s``."""
        sig = self._pending.pop(symbol, None)
        if sig is None:
            return None
        if sig.ts_ms is not None and now_ms - sig.ts_ms > self.p["max_age_s"] * 1000:
            self._drop(
                f"{symbol} {sig.side}: {(now_ms - sig.ts_ms) / 1000:.0f} s old (max {self.p['max_age_s']:g} s)",
                sig)
            return None
        return sig

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Deliver the pending signal of ``symbol`` at this candle close, if any and fresh enough."""
        if timeframe != self.timeframe:
            return None
        close_ms = candle.ts_ms + self._tf_ms
        hist = self._history
        while hist and hist[0][0] <= close_ms:  # a loaded signal file: only what is known at this close
            self._queue(hist.popleft()[1], "history", None)
        return self.take(symbol, close_ms)


def _with_source(sig: Signal, source: str) -> Signal:
    """``sig`` with its source named in the reason (journaled with the signal)."""
    return Signal(sig.symbol, sig.side, sig.confidence, f"{sig.reason} [via {source}]"[:600], sig.features,
                  ts_ms=sig.ts_ms, strategy=sig.strategy)
