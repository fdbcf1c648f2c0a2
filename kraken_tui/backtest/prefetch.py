"""A second process that reads the candle file ahead of the backtest's bar loop (``kraken-tui backtest``).

Owns: ``claim`` (does a ``Backtest.run`` call read through a reader process? returns the ``Prefetcher`` or
None), ``Prefetcher`` (the main process's end: ``take``, ``close``), ``PrefetchError`` and ``ENV``.

What moves to the reader process: the work per bar that does not depend on the simulated account - opening,
reading and validating the file (``backtest.data.open_candles``, the same reader and the same chunks
``columns.CandleRows.take`` yields), the ATR (``engine.indicators.ATR.update_many``, an ``ATR`` of its own)
and, for a strategy with a batch ``on_candles`` used by the backtest (signals from its own bars only), the
chunk's signals from a strategy instance of its own (``engine.strategies.build_strategy`` with the same name,
params and timeframe). Same engine code, same inputs in the same order, so the same values: the main process
runs ``Backtest._chunk(cols, pre=(signals, atrs))`` instead of computing them (tests/backtest/
test_prefetch.py compares fingerprint, trades, curve and statistics with the in-process path).

Transfer (measured per 1M rows, cost in the main process): columns as numpy arrays (one int64 time array and
one 5 x n float64 matrix, ``tolist`` on arrival: 0.06 s) rather than pickled lists (0.13 s); only chunks whose
values are exactly ``int`` times and ``float`` prices go as arrays (anything else as lists, so types never
change). Signals as plain tuples rebuilt with the slot setters (0.05 s; pickled ``Signal`` objects: 0.13 s,
as much as computing them). ATRs as a list (0.02 s). Transport: one pipe, pickled by the reader itself; its capacity
(``PIPE_BYTES``, ~14 CSV chunks of ~1,400 bars) bounds how far the reader runs ahead, so memory stays flat.

Errors: the reader sends an exception as an item in the stream, in order, so a bad row in chunk k raises the
same ``DataFileError`` (same class, message, attributes) in the main process after chunks < k went through
the loop, as in-process. A reader that dies without a word (killed, crashed) raises ``PrefetchError`` within
``POLL_S`` seconds (the pipe's EOF; a live reader silent for ``STALL_S`` too); the reader exits by itself when the
main process is gone (its next send fails). A queue was measured unsafe here: a reader killed in the middle
of a message left the main process blocked on the rest of it. Ctrl-C: the reader ignores SIGINT; the main process gets KeyboardInterrupt and ``close``
terminates and joins the reader (``Backtest.run`` closes it on any exception), so no zombie is left.

Start method: ``fork``, and only while the process runs no other Python thread (else in-process). Measured
here (2 cores, 1M-row file, start to the first chunk in the main process): fork 10-60 ms, forkserver 0.26-0.33
s, spawn 0.23-0.28 s (both start a fresh interpreter that re-imports numpy and the engine). Worse, spawn and
forkserver re-run the caller's ``__main__`` script in the child unless it has an ``if __name__ ==
"__main__"`` guard (a plain benchmark script then fails or runs twice), so they are not safe defaults for a
library call either. Fork copies the parent as it is, which is unsafe only if another thread holds a lock at
that instant (the child could block on it); the backtest CLI has no other thread on its plain path, and with
one (the journaled run's SQLite thread, a caller's threads) the reader is not used.

When: ``ENV`` = ``KRAKEN_TUI_BACKTEST_PREFETCH``: ``0`` never, ``1`` always when possible, unset = auto: the
file is at least ``MIN_BYTES`` (~100k CSV rows; the start cost is ~1-2 % of that run with fork) and at least
2 CPUs are usable (``os.sched_getaffinity``); with ``1`` the size and CPU tests are skipped. Only a stream from ``open_candles`` that nothing has read yet
(``CandleRows.reopen`` set, ``started`` false) is served; plain iterables stay in-process.
Must not import: textual, the paper exchange's server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal as _signal
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from kraken_tui.domain.candle_columns import column_arrays
from kraken_tui.errors import KrakenTuiError
from kraken_tui.paper.sources.candle_csv import Columns

from .columns import CandleRows

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext

    from kraken_tui.engine.signals import Signal

    from .settings import BacktestSettings



def _numpy() -> ModuleType | None:
    """numpy for the array transport, imported on first use (a reader is started only for large files, so a
    small backtest never loads it); None when it is missing."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is a dependency
        return None
    return numpy

#: What the reader computed for one chunk: (signals by bar index in the chunk, or None; ATR per bar, None while
#: it warms up).
Precomputed = tuple["dict[int, Signal] | None", list[float | None]]
#: One chunk as the reader sends it: (columns, ATRs, signals or None).
_Chunk = tuple[Columns, list[float | None], "dict[int, Signal] | None"]
#: The arguments of ``data.open_candles`` that reopen a stream: (path, keyword arguments).
Reopen = tuple[str, dict[str, Any]]
#: What the reader needs to compute signals: (strategy, params, timeframe, ATR period, symbol, batch on).
Spec = tuple[str, dict[str, Any], str, int, str, bool]


class _Owner(Protocol):
    """The backtest a reader serves (``runner.Backtest``): its settings, symbol, batch path and reader slot."""

    @property
    def s(self) -> BacktestSettings: ...

    @property
    def symbol(self) -> str: ...

    @property
    def _batch(self) -> object: ...

    _prefetch: tuple[object, Prefetcher] | None

__all__ = ["ENV", "MIN_BYTES", "PIPE_BYTES", "POLL_S", "STALL_S", "PrefetchError", "Prefetcher", "claim"]

ENV = "KRAKEN_TUI_BACKTEST_PREFETCH"
#: Auto mode: files smaller than this are read in-process (46 MB = 1M CSV rows).
MIN_BYTES = 4_000_000
#: Bytes the reader may be ahead of the loop: the pipe's capacity (F_SETPIPE_SZ; ~14 CSV chunks of ~70 KB;
#: 64 KB where it cannot be set).
PIPE_BYTES = 1 << 20
#: Seconds without a message from a live reader before giving up.
STALL_S = 120.0
#: Seconds between checks that the other process is still alive while waiting on the pipe.
POLL_S = 1.0
_SIG_FIELDS = ("symbol", "side", "confidence", "reason", "features", "ts_ms", "strategy")

#: How the last ``claim`` decided (one line; the benchmark prints it).
last_decision = "in-process (not asked)"


class PrefetchError(KrakenTuiError):
    """The candle reader process stopped without finishing (killed or crashed; exit code 1)."""


def _mode() -> str:
    v = os.environ.get(ENV, "").strip()
    return {"0": "off", "1": "on"}.get(v, "auto")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def claim(bt: _Owner, rows: object) -> Prefetcher | None:
    """The ``Prefetcher`` serving ``rows`` for backtest ``bt`` (started on the first call, kept on ``bt``), or
    None when ``rows`` is read in-process (module docstring: switch, size, CPUs, stream not fresh). A reader
    that cannot be started (no semaphores, process limit) means in-process too."""
    global last_decision
    cur = bt._prefetch  # noqa: SLF001
    if cur is not None and cur[0] is rows:
        return cur[1]
    reopen = rows.reopen if isinstance(rows, CandleRows) else None
    mode = _mode()
    why = None
    if mode == "off":
        why = f"{ENV}=0"
    elif reopen is None or not isinstance(rows, CandleRows) or rows.started:
        why = "not a fresh candle file stream"
    elif mode == "auto" and _cpus() < 2:
        why = "1 usable CPU"
    elif mode == "auto" and _file_size(reopen[0]) < MIN_BYTES:
        why = f"file under {MIN_BYTES // 1_000_000} MB"
    elif threading.active_count() > 1 or not _can_fork():
        why = "other threads running (fork unsafe)" if _can_fork() else "no fork"
    if why is not None:
        last_decision = f"in-process ({why})"
        return None
    assert reopen is not None and isinstance(rows, CandleRows)  # else why is set above
    s = bt.s
    spec: Spec = (s.strategy, dict(s.strategy_params), s.timeframe, s.atr_period, bt.symbol, bt._batch is not None)  # noqa: SLF001
    try:
        pf = Prefetcher(reopen, spec)
    except OSError as exc:
        last_decision = f"in-process (reader process not started: {exc})"
        return None
    rows.started = True  # the stream is the reader's now (reading it here too would skip bars)
    bt._prefetch = (rows, pf)  # noqa: SLF001
    last_decision = f"reader process ({pf.method})"
    return pf


# ------------------------------------------------------------------------------------------ the reader


def _reader(r: Any, w: Any, reopen: Reopen, spec: Spec) -> None:
    """The reader process: chunks of ``open_candles(*reopen)`` with their ATRs and signals, sent on ``w``."""
    import pickle  # here and in _next: a run without a reader process (a small file) never imports it

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    r.close()  # so a send fails (BrokenPipeError) once the main process is gone
    try:
        try:
            from kraken_tui.backtest.data import open_candles
            from kraken_tui.domain.candle_columns import hlc_arrays
            from kraken_tui.engine.indicators import ATR
            from kraken_tui.engine.signals import BuilderMarketView
            from kraken_tui.engine.strategies import build_strategy

            name, params, tf, atr_period, symbol, batch_on = spec
            rows = open_candles(Path(reopen[0]), **reopen[1]).rows
            atr = ATR(atr_period)
            strategy = build_strategy(name, params, timeframe=tf)
            batch = getattr(strategy, "on_candles", None) if batch_on else None
            view = BuilderMarketView()
            while (cols := rows.take()) is not None:
                atrs = atr.update_many(cols[2], cols[3], cols[4], hlc_arrays(cols))
                sigs = None
                if batch is not None:
                    sigs = [(i, sg.symbol, sg.side.value, sg.confidence, sg.reason, sg.features, sg.ts_ms,
                             sg.strategy) for i, sg in batch(symbol, tf, cols, view)]
                w.send_bytes(pickle.dumps(("c", _pack(cols), atrs, sigs), 5))
            w.send_bytes(pickle.dumps(("end",)))
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                return  # the main process stopped reading
            raise
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the main process, in order
        state = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
        try:
            data = pickle.dumps(("err", state))
        except Exception:  # noqa: BLE001
            data = pickle.dumps(("err", (PrefetchError, (f"candle reader: {type(exc).__name__}: {exc}",), {})))
        with contextlib.suppress(OSError):
            w.send_bytes(data)


def _pack(cols: Columns) -> tuple[Any, ...]:
    """Columns as (int64 times, 5 x n float64) arrays when that round-trips exactly (int times, float prices),
    else the lists themselves."""
    _np = _numpy()
    arrays = column_arrays(cols)
    if _np is not None and arrays is not None:  # the reader's own arrays: int64 times, float64 prices, exactly
        return ("np", arrays[0], _np.stack(arrays[1:]))
    if _np is not None and set(map(type, cols[0])) == {int} and all(set(map(type, c)) == {float} for c in cols[1:]):
        ts = cols[0]
        if -(1 << 63) <= min(ts) and max(ts) < (1 << 63):
            return ("np", _np.array(ts, dtype=_np.int64), _np.array(cols[1:], dtype=_np.float64))
    return ("l", cols)


# ------------------------------------------------------------------------------------------ main side


def _can_fork() -> bool:
    """Whether this platform offers the ``fork`` start method (``multiprocessing`` is imported here, on first
    need: a small file is read in-process and its start-up does not pay for the import)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _file_size(path: str) -> int:
    """The size of ``path`` in bytes, 0 when it cannot be read (the reader then reports the error)."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _context(method: Literal["fork", "spawn", "forkserver"]) -> ForkContext | SpawnContext | ForkServerContext:
    """The multiprocessing context of a start method."""
    import multiprocessing as mp

    if method == "fork":
        return mp.get_context("fork")
    if method == "spawn":
        return mp.get_context("spawn")
    return mp.get_context("forkserver")


class Prefetcher:
    """The main process's end of one reader process (module docstring).

    ``take(max_bars)`` -> ``(cols, (signals, atrs))`` for the next bars (at most ``max_bars``, at most one
    chunk; ``signals`` = {index in the chunk: Signal} or None when the reader computes none), or None at the
    end of the stream. Raises the reader's exception (same class and message) where the in-process reader
    would have raised it, ``PrefetchError`` if the reader died. ``close()`` stops it (idempotent).
    """

    def __init__(self, reopen: Reopen, spec: Spec,
                 method: Literal["fork", "spawn", "forkserver"] | None = None) -> None:
        from kraken_tui.engine.signals import Signal, SignalSide

        self.method: Literal["fork", "spawn", "forkserver"] = method or "fork"
        ctx = _context(self.method)
        r, w = ctx.Pipe(duplex=False)
        with contextlib.suppress(OSError, AttributeError):  # Linux: room for several chunks
            fcntl.fcntl(w.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        self.proc = ctx.Process(target=_reader, args=(r, w, reopen, spec), name="kraken-tui candle reader",
                                daemon=True)
        try:
            self.proc.start()
        finally:
            w.close()  # the reader holds the only write end: its exit means EOF here
        self._r = r
        self._cur: _Chunk | None = None
        self._pos = 0
        self._done = False
        self._sides = {m.value: m for m in SignalSide}
        self._sig = Signal
        self._set = tuple(Signal.__dict__[f].__set__ for f in _SIG_FIELDS)

    def _next(self) -> _Chunk | None:
        import pickle

        waited = 0.0
        while True:
            try:
                if self._r.poll(POLL_S):
                    item = self._r.recv_bytes()
                    break
            except (EOFError, OSError):
                item = None
            if item is None or not self.proc.is_alive():
                if item is None or not self._r.poll(0.1):
                    self.proc.join(1)
                    code = self.proc.exitcode
                    self.close()
                    raise PrefetchError(f"the candle reader process died (exit code {code}) before the end "
                                        f"of the file; {ENV}=0 reads in-process") from None
            waited += POLL_S
            if waited >= STALL_S:
                self.close()
                raise PrefetchError(f"the candle reader process sent nothing for {STALL_S:.0f} s; "
                                    f"{ENV}=0 reads in-process")
        assert item is not None  # the loop breaks only with bytes
        msg = pickle.loads(item)
        kind = msg[0]
        if kind == "end":
            self.close()
            return None
        if kind == "err":
            self.close()
            cls, args, attrs = msg[1]
            exc = cls.__new__(cls)
            exc.args = args
            exc.__dict__.update(attrs)
            raise exc
        _, packed, atrs, sigs = msg
        if packed[0] == "np":
            cols = (packed[1].tolist(), *packed[2].tolist())
        else:
            cols = packed[1]
        return cols, atrs, None if sigs is None else self._signals(sigs)

    def _signals(self, rows: list[tuple[Any, ...]]) -> dict[int, Signal]:
        new, sides, cls = object.__new__, self._sides, self._sig
        a, b, c, d, e, f, g = self._set
        out: dict[int, Signal] = {}
        for i, sy, sd, cf, rs, fe, ts, st in rows:
            s = new(cls)
            a(s, sy)
            b(s, sides[sd])
            c(s, cf)
            d(s, rs)
            e(s, fe)
            f(s, ts)
            g(s, st)
            out[i] = s
        return out

    def take(self, max_bars: int | None = None) -> tuple[Columns, Precomputed] | None:
        """The next bars and their pre-computed signals and ATRs (class docstring)."""
        cur, pos = self._cur, self._pos
        if cur is None:
            if self._done:
                return None
            cur = self._next()
            if cur is None:
                self._done = True
                return None
            pos = 0
        cols, atrs, sigs = cur
        n = len(cols[0])
        end = n if max_bars is None else min(n, pos + max_bars)
        if pos == 0 and end == n:
            self._cur = None
            return cols, (sigs, atrs)
        self._cur, self._pos = (cur, end) if end < n else (None, 0)
        ts_c, o_c, h_c, lo_c, c_c, v_c = cols
        part: Columns = (ts_c[pos:end], o_c[pos:end], h_c[pos:end], lo_c[pos:end], c_c[pos:end], v_c[pos:end])
        psigs = None if sigs is None else {i - pos: s for i, s in sigs.items() if pos <= i < end}
        return part, (psigs, atrs[pos:end])

    def close(self) -> None:
        """Stop the reader (terminate if still running) and reap it; idempotent."""
        self._done = True
        p = self.proc
        if p.exitcode is None:
            p.join(timeout=0.5 if p.is_alive() else 0)
            if p.exitcode is None:
                p.terminate()
                p.join(timeout=5)
                if p.exitcode is None:  # pragma: no cover - SIGTERM ignored
                    p.kill()
                    p.join()
        self._r.close()
