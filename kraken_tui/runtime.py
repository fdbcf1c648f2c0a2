"""Assembling a run: paper exchange (or Kraken), clients, journal and engine, started and stopped in order.

Owns: ``RunOptions`` (the ``run`` flags), ``build_runtime`` and ``Runtime`` (used by the headless runner and
the console), the live-mode gate, the restore of the operator state from the journal
(``last_operator_state``), the replay lockstep and the external signal readers.

External signals: when the strategy has an external component (``[strategy] name = "external"`` or the
ensemble's ML slot) and ``[external]`` (or the strategy's ``path``/``socket`` params) names a reader, the
readers (``engine.strategies.external_io.run_external_reader``: file, pipe, socket, loopback webhook) run
as a runtime task from engine start to close; they hand lines to the component's ``feed_line`` and every
outcome is journaled (``engine.external_feed.ExternalJournal``). The webhook's secret is read here
(environment or a 0600 file) and never logged.

Paper mode starts the paper exchange in process on loopback (``paper.server.PaperServer``) with the
market source chosen by the flags (``paper.sources.factory.build_source``) and points the ordinary
``KrakenRestClient``/``KrakenWsClient`` at it with the public paper key pair, so every paper run exercises
the live code path. Live mode talks to ``[live] rest_url``/``ws_url`` with ``config.load_credentials``
and refuses to start without keys and ``[live] enabled = true``.

Replay lockstep: a replay at ``--speed max`` would outrun the engine (the exchange would move on before
the engine saw the price it decided on). The runtime therefore releases each market event of a traded
symbol only when the engine has processed the previous one (its data clock reached that event's time)
and has no order work in flight; a 2 s wall-clock timeout per event keeps a stuck engine from stalling
the replay. At finite speeds the lockstep only waits when the engine is behind. The WS ticker is not
throttled in replay (one ticker per market event) so the engine sees every price the exchange uses.

Profiles (``RunProfile``, ``resolve_profile``): each run belongs to a named profile that keeps its own journal
(so its own operator state: a HALTED replay does not halt the paper console) under
``<platform data dir>/profiles/<name>/`` (``config.profile_dir``): ``paper`` for paper runs, ``live`` for
live runs, ``replay-<file stem>`` per replayed file (several files: stems joined by ``+``). ``--profile NAME``
or ``[general] profile`` (paper and live runs) name one explicitly; ``--journal`` / ``[general] journal_path``
still pick the journal file.

The paper account persists (``paper.store.PaperAccountStore``) for paper runs: in the profile directory
(``paper-account.sqlite``), or beside an explicitly chosen journal (``<journal stem>.paper-account.sqlite``)
so a journal and the account it describes stay together. ``--fresh`` / ``[paper] fresh`` start it over.
A replay's account is not persisted: the replay's exchange starts from the file's beginning, and an account
carried over from a later point of the same data would be wrong. Live runs have no paper account.

One engine per journal and per exchange account: ``start`` first takes the run's ``locks.InstanceLocks`` (the
journal's ``<journal>.lock``; live, the API key's fingerprint under the data dir; paper, the profile's paper
account file) and ``aclose`` releases them; a second instance fails with ``InstanceBusyError`` (exit code 2)
naming the holder's pid and mode.

Notifications: when ``[notify]`` names channels (``notify.secrets.load_urls``), a ``notify.sender.Notifier``
is subscribed as an engine listener (and the daily summary task started when enabled); its health is in
the snapshot (``EngineSnapshot.notify``).
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from kraken_tui import __version__
from kraken_tui.config import (
    Config,
    Credentials,
    default_data_dir,
    load_credentials,
    profile_dir,
    validate_profile_name,
)
from kraken_tui.engine.core import Engine
from kraken_tui.engine.external_feed import ExternalJournal, external_component
from kraken_tui.engine.facade import EngineMode, EventKind, Severity
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.strategies.ensemble import Ensemble
from kraken_tui.engine.strategies.external import ExternalSignals
from kraken_tui.engine.strategies.external_io import ReaderSpec, load_webhook_secret, run_external_reader
from kraken_tui.errors import ConfigError, SecretsError
from kraken_tui.gcpolicy import freeze_startup_heap, release_startup_heap
from kraken_tui.journal.db import resolve_journal_path
from kraken_tui.journal.queries import last_state_change
from kraken_tui.journal.records import EventSource, OperatorAction, RunStarted, RunStopped, run_account
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_http import new_session
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.locks import InstanceLocks

__all__ = ["RunOptions", "RunProfile", "Runtime", "build_runtime", "external_reader_spec", "last_operator_state",
           "profile_name", "replay_symbols", "resolve_profile"]

log = logging.getLogger(__name__)

LOCKSTEP_TIMEOUT_S = 2.0
#: How often the paper account is written to its file, seconds (and once more at the stop).
PAPER_ACCOUNT_FILE = "paper-account.sqlite"
_DATA_SUFFIXES = (".gz", ".jsonl", ".json", ".csv", ".txt")


@dataclass
class RunOptions:
    """The ``run`` flags (README.md "Commands"). ``speed`` None = max; ``replay`` items are PATH or
    PATH@SYMBOL."""

    mode: str = "paper"
    source: str = "synthetic"
    replay: list[str] = field(default_factory=list)
    funding: str | None = None
    funding_rate: float | None = None
    symbol_map: dict[str, str] = field(default_factory=dict)
    speed: float | None = 1.0
    exit_at_end: bool = False
    journal: Path | None = None
    skip_paper_gate: bool = False
    """``--skip-paper-gate``: start live although the paper record misses a ``[live]`` threshold (journaled)."""
    profile: str | None = None
    fresh: bool | None = None
    """Start the paper account over; None = ``[paper] fresh``."""


@dataclass(frozen=True, slots=True)
class RunProfile:
    """A run's profile: ``name``, its ``journal_path``, and the ``paper_account`` file (None: not persisted,
    i.e. replays and live runs). ``legacy_journal``: the shared journal of earlier versions when it exists
    beside a profile journal not created yet (told once at the start)."""

    name: str
    journal_path: Path
    paper_account: Path | None = None
    legacy_journal: Path | None = None


def _replay_stem(item: str) -> str:
    path, at, sym = item.rpartition("@")
    name = Path(path if at and sym and "/" not in sym else item).name
    while True:
        low = name.lower()
        cut = next((s for s in _DATA_SUFFIXES if low.endswith(s) and len(name) > len(s)), None)
        if cut is None:
            return name
        name = name[: -len(cut)]


def profile_name(cfg: Config, opts: RunOptions) -> str:
    """The profile of a run: ``opts.profile`` (``--profile``), else ``replay-<stems>`` for a replay, else
    ``[general] profile``, else the mode (``paper`` / ``live``).

    Raises:
        ConfigError: ``--profile`` is not a valid name.
    """
    if opts.profile:
        return validate_profile_name(opts.profile)
    if opts.replay and opts.mode != "live":
        stems = "+".join(re.sub(r"[^A-Za-z0-9._-]", "_", _replay_stem(r)) for r in opts.replay)
        name = f"replay-{stems}"
        if len(name) > 64:
            name = f"{name[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
        return name
    return cfg.general.profile or ("live" if opts.mode == "live" else "paper")


def resolve_profile(cfg: Config, opts: RunOptions) -> RunProfile:
    """The run's profile, journal and paper-account file (module docstring "Profiles").

    Raises:
        ConfigError: an invalid profile name.
    """
    name = profile_name(cfg, opts)
    home = profile_dir(name)
    default_journal = home / "journal.sqlite"
    journal = resolve_journal_path(opts.journal, cfg, name)
    account: Path | None = None
    if opts.mode == "paper" and not opts.replay:
        account = home / PAPER_ACCOUNT_FILE if journal == default_journal else \
            journal.with_name(f"{journal.stem}.{PAPER_ACCOUNT_FILE}")
    legacy = default_data_dir() / "journal.sqlite"
    shown = legacy if journal == default_journal and legacy.exists() and not journal.exists() else None
    return RunProfile(name, journal, account, shown)


def last_operator_state(path: Path) -> tuple[OperatorState, str] | None:
    """The operator state last journaled in ``path`` (the newest state change by insertion order,
    ``journal.queries.last_state_change``) and its reason, or None for a new journal or an unknown state
    name. A console restarted after a flatten comes up HALTED.

    Raises:
        JournalError: a corrupt journal file (a missing file or table gives None).
    """
    row = last_state_change(path)
    if row is None:
        return None
    try:
        return OperatorState(row[0]), row[1]
    except ValueError:
        return None


def external_reader_spec(cfg: Config, component: ExternalSignals) -> ReaderSpec:
    """The readers of ``component``: ``[external]`` keys, else the strategy's own ``path``/``socket`` params;
    the webhook secret loaded when a webhook is named.

    Raises:
        ConfigError: a webhook without a usable secret (``external_io.load_webhook_secret``).
    """
    ext = cfg.external
    secret = ""
    if ext.webhook:
        secret = load_webhook_secret(ext.webhook_secret_env, ext.webhook_secret_file)
    return ReaderSpec(path=ext.path or component.p["path"], pipe=ext.pipe, socket=ext.socket or component.p["socket"],
                      webhook=ext.webhook, webhook_secret=secret)


def replay_symbols(cfg: Config, replayed: tuple[str, ...] | list[str]) -> tuple[tuple[str, ...], str]:
    """The symbols a replay trades and a one-line explanation for the INFO event.

    The replay's own symbols (after ``--symbol-map`` / ``PATH@SYMBOL``) are traded: a strategy symbol with
    no data would show an empty row, raise a "feed silent" warning and hold the lockstep. When the config
    names ``[strategy] symbols`` explicitly and they intersect the replayed ones, the intersection is
    traded (the operator narrowed the run); otherwise every replayed symbol is.

    Args:
        cfg: the configuration (``cfg.strategy.symbols``; explicit when set in the file).
        replayed: the replay source's symbols (upper case perpetuals).

    Returns:
        (symbols in the replay's order, explanation). Empty ``replayed`` keeps the config's symbols.
    """
    conf = [s.upper() for s in cfg.strategy.symbols]
    rep = [s.upper() for s in replayed]
    if not rep:
        return tuple(conf), f"replay carries no symbol; trading the configured {', '.join(conf)}"
    explicit = "symbols" in cfg.strategy.model_fields_set
    both = [s for s in rep if s in conf]
    if explicit and both:
        skipped = [s for s in conf if s not in both]
        note = f"replay trades {', '.join(both)} ([strategy] symbols present in the replay"
        note += f"; not replayed: {', '.join(skipped)})" if skipped else ")"
        extra = [s for s in rep if s not in both]
        if extra:
            note += f"; replayed but not in [strategy] symbols: {', '.join(extra)}"
        return tuple(both), note
    why = "none of [strategy] symbols is replayed" if explicit else "[strategy] symbols not set"
    return tuple(rep), f"replay trades {', '.join(rep)} (the replayed symbols; {why})"


class _Lockstep:
    """A market source wrapper that releases events in step with the engine (module docstring)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.name, self.synthetic = source.name, source.synthetic
        self.symbols = tuple(getattr(source, "symbols", ()))
        self.engine: Engine | None = None
        self.ready = asyncio.Event()
        self.timeouts = 0

    async def events(self) -> AsyncIterator[Any]:
        await self.ready.wait()
        prev: int | None = None
        async for ev in self.source.events():
            eng = self.engine
            if eng is not None and prev is not None and getattr(ev, "symbol", "").upper() in eng.symbols:
                await self._wait(eng, prev)
            if eng is not None and getattr(ev, "symbol", "").upper() in eng.symbols and hasattr(ev, "last"):
                prev = ev.ts_ms
            yield ev

    async def _wait(self, eng: Engine, ts_ms: int) -> None:
        deadline = time.monotonic() + LOCKSTEP_TIMEOUT_S
        while not eng.stopped and ((eng.data_ms or 0) < ts_ms or eng.busy):
            eng.progress.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                self.timeouts += 1
                log.warning("replay lockstep: engine not caught up with %d after %.1f s (data %s, job %s)",
                            ts_ms, LOCKSTEP_TIMEOUT_S, eng.data_ms, eng.current_job if eng.busy else None)
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):  # no wrapper task per wait (wait_for makes one)
                    await eng.progress.wait()

    async def close(self) -> None:
        await self.source.close()


class Runtime:
    """One run (paper, replay or live). ``start`` -> ``wait_finished`` -> ``aclose``.

    Attributes:
        engine: the Engine (``facade.EngineControl``), available after ``start``.
        mode: paper / replay / live. journal_path: the journal file. paper_url: the paper REST URL or None.
        paper_server: the in-process ``PaperServer`` (paper modes), for tests and the console banner.
        profile: the run's ``RunProfile`` (None: built without one; then the paper account does not persist).
        paper_store: the paper account's file (``paper.store.PaperAccountStore``) while it persists.
        notifier: the ``notify.sender.Notifier`` when notification channels are configured.
    """

    def __init__(self, cfg: Config, opts: RunOptions, *, mode: EngineMode, journal_path: Path,
                 source: Any, credentials: Credentials | None, profile: RunProfile | None = None,
                 notify_urls: list[str] | None = None) -> None:
        self.cfg, self.opts, self.mode = cfg, opts, mode
        self.journal_path = journal_path
        self.profile = profile
        self.paper_store: Any = None  # paper.store.PaperAccountStore when the paper account persists
        self.notifier: Any = None  # notify.sender.Notifier when [notify] names channels
        self._notify_urls = list(notify_urls or [])
        self.paper_url: str | None = None
        self.paper_server: Any = None
        self.engine: Engine = None  # type: ignore[assignment]  # set by start()
        self.run_id = uuid.uuid4().hex
        self._source = source
        self._creds = credentials
        self._journal = JournalWriter(journal_path)
        self.locks = InstanceLocks.for_run(
            journal=journal_path, state_dir=default_data_dir(),
            api_key=credentials.api_key.get_secret_value() if credentials is not None else None,
            endpoint=cfg.live.rest_url,
            paper_account=profile.paper_account if profile is not None and mode is EngineMode.PAPER else None)
        """One engine per journal and per exchange account (``kraken_tui.locks``), held from ``start`` to
        ``aclose`` (the OS frees them when the process dies)."""
        self._http: aiohttp.ClientSession | None = None
        self._ws: KrakenWsClient | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        self.paper_gate_override: list[str] = []
        """The promotion thresholds missed when live started with ``--skip-paper-gate`` (journaled at start)."""

    async def start(self) -> None:
        """Instance locks, journal, paper server (paper/replay), clients, engine, in that order.

        Raises:
            InstanceBusyError: another instance holds the journal or the exchange account (exit code 2).
            JournalError: the journal cannot be opened. ExchangeError: the exchange cannot be read.
            OSError: the paper exchange cannot listen.
        """
        await asyncio.to_thread(self.locks.acquire, self.mode.value)
        await self._journal.start()
        restored = await asyncio.to_thread(last_operator_state, self.journal_path)
        cfg = self.cfg
        rest_url, ws_url, creds = cfg.live.rest_url, cfg.live.ws_url, self._creds
        gate: _Lockstep | None = None
        if self.mode is not EngineMode.LIVE:
            from pydantic import SecretStr

            from kraken_tui.paper.exchange import PaperExchange
            from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer

            source = self._source
            if self.mode is EngineMode.REPLAY:
                gate = source = _Lockstep(source)
            live_src = getattr(self._source, "name", "") == "live"
            exchange = PaperExchange(cfg.paper)
            if self.mode is EngineMode.REPLAY:  # data time runs faster than the wall (PaperExchange.dms_wall_s)
                exchange.dms_wall_s = time.monotonic
            account = self.profile.paper_account if self.profile is not None else None
            if account is not None and self.mode is EngineMode.PAPER:
                await self._open_paper_account(exchange, account)
            self.paper_server = PaperServer(
                exchange, host=cfg.paper.host, port=cfg.paper.port, source=source,
                wall_clock=live_src, ticker_interval_s=0.0 if self.mode is EngineMode.REPLAY else 1.0)
            await self.paper_server.start()
            if self.paper_store is not None:
                self._tasks.append(asyncio.create_task(self.paper_store.flush_every(), name="runtime-paper-flush"))
            rest_url, ws_url = self.paper_server.rest_url, self.paper_server.ws_url
            self.paper_url = rest_url
            creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET),
                                source="paper exchange")
        self._http = new_session()  # the REST client's one keep-alive pool; timeouts are per request
        limiter = None
        if self.mode is EngineMode.REPLAY:
            # Data time runs faster than wall time in a replay; the paper exchange enforces no budget, and
            # a wall-clock limiter would throttle the simulation instead of protecting an account.
            limiter = RateLimiter(budget=10**9, reserve=cfg.client.rate_limit_reserve, history_capacity=10**9)
        client = KrakenRestClient(self._http, rest_url, creds, config=cfg.client, rate_limit=limiter)
        self._ws = KrakenWsClient(ws_url, creds, config=cfg.client)
        symbols, note = None, None
        if self.mode is EngineMode.REPLAY:
            symbols, note = replay_symbols(cfg, tuple(getattr(self._source, "symbols", ())))
        self.engine = Engine(cfg, client=client, ws=self._ws, journal=self._journal, run_id=self.run_id,
                             mode=self.mode, synthetic=bool(getattr(self._source, "synthetic", False)),
                             restored=restored, data_clock=self.mode is EngineMode.REPLAY,
                             journal_path=str(self.journal_path), symbols=symbols)
        self._describe_run()
        attach_funding = getattr(self.engine.strategy, "attach_funding", None)  # the ml source's funding features
        if attach_funding is not None and attach_funding(self.engine.market.funding_rate_at,
                                                         "the feed's ticker funding rates"):
            await self._funding_history(client)
        if note is not None:
            self.engine.emit(EventKind.INFO, note, data={"symbols": list(symbols or ())})
        source_note = getattr(self._source, "note", None)
        if source_note:  # --source auto fell back to synthetic prices: say why where the operator looks
            self.engine.emit(EventKind.FEED, f"source auto: {source_note}", severity=Severity.WARNING,
                             data={"source": getattr(self._source, "name", "")})
        funding_note = getattr(self._source, "funding_describe", None)
        if self.mode is EngineMode.REPLAY and funding_note:
            if funding_note.startswith("constant") and self.opts.funding_rate is None:
                funding_note += " (default; set --funding PATH or --funding-rate R)"
            self.engine.emit(EventKind.INFO, f"replay funding: {funding_note}", data={"funding": funding_note})
        self._start_notifier()
        equity: Decimal | None = None
        with contextlib.suppress(Exception):
            equity = (await client.account()).margin_equity_usd
        await self._journal.write(RunStarted(
            self.run_id, int(time.time() * 1000), self.mode.value, _config_hash(cfg), __version__,
            equity if equity and equity > 0 else None,
            run_account(self.mode.value, self.run_id, self.profile.name if self.profile is not None else "")))
        why = await self.journal_paper_gate_override()
        if why:
            self.engine.emit(EventKind.ALERT, why, severity=Severity.WARNING, data={"level": "HIGH"})
        await self.engine.start()
        await self._start_external()
        # The process's garbage-collector policy (gcpolicy): the start-up heap frozen, so that collections scan
        # only what the run creates; ``aclose`` releases it.
        freeze_startup_heap()
        if gate is not None:
            gate.engine = self.engine
            gate.ready.set()
        if self.paper_server is not None and self.paper_server.source_done is not None:
            self._tasks.append(asyncio.create_task(self._watch_source(), name="runtime-source-watch"))
        if self.opts.exit_at_end and self.paper_server is not None and self.paper_server.source_done is not None:
            self._tasks.append(asyncio.create_task(self._exit_at_end(), name="runtime-exit-at-end"))

    async def _funding_history(self, client: KrakenRestClient) -> None:
        """The funding rates of the hours before the start (REST "Historical funding rates", spec §4.5) into the
        market state, so the ml source's funding features are known from the first bar; a failed read is a
        warning (the features of the first two hours are then unknown)."""
        market = self.engine.market
        for sym in market.symbols:
            try:
                rates = await client.funding_rates(sym)
            except Exception as exc:  # noqa: BLE001 - any failure only delays the funding features
                self.engine.emit(EventKind.FEED, f"funding history of {sym} not read: {exc}", severity=Severity.WARNING)
                continue
            market.seed_funding(sym, ((r.ts_ms, r.funding_rate) for r in rates))

    async def journal_paper_gate_override(self) -> str | None:
        """Journal the ``--skip-paper-gate`` override (an ``OperatorAction`` naming the thresholds missed) when
        live starts with it; returns that text, or None without an override. The journal must be started."""
        if not self.paper_gate_override:
            return None
        why = "--skip-paper-gate: live started although " + "; ".join(self.paper_gate_override)
        await self._journal.write(OperatorAction(int(time.time() * 1000), "skip-paper-gate", why, EventSource.KEY))
        return why

    async def _start_external(self) -> None:
        """Start the external signal readers (module docstring) and announce the ensemble's slots.

        Raises:
            ConfigError: ``[strategy] name = "external"`` with no reader, or a webhook without a secret.
        """
        eng = self.engine
        comp = external_component(eng.strategy)
        spec = external_reader_spec(self.cfg, comp) if comp is not None else ReaderSpec()
        if comp is not None and spec.any:
            comp.listener = ExternalJournal(eng.io, self.run_id)
            stop = asyncio.Event()
            listening = asyncio.Event()

            def started(names: list[str]) -> None:
                eng.emit(EventKind.INFO, "external signals from " + ", ".join(names), data={"readers": names})
                listening.set()

            task = asyncio.create_task(run_external_reader(comp, stop=stop, spec=spec, started=started),
                                       name="runtime-external-signals")
            task.add_done_callback(self._external_ended)
            self._tasks.append(task)
            done, _ = await asyncio.wait([task, asyncio.create_task(listening.wait())],
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # e.g. the webhook port cannot be bound
        elif isinstance(eng.strategy, ExternalSignals):
            raise ConfigError("external.path", "", "a file, pipe, socket or webhook for [strategy] name = "
                              '"external" ([external] section)')
        if isinstance(eng.strategy, Ensemble):
            eng.emit(EventKind.INFO, eng.strategy.describe())

    def _external_ended(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None and self.engine is not None:
            self.engine.emit(EventKind.ERROR, f"external signal reader stopped: {task.exception()}",
                             severity=Severity.ERROR)

    async def _open_paper_account(self, exchange: Any, path: Path) -> None:
        """Open (lock) the paper account file and restore the account into ``exchange``.

        Raises:
            ConfigError: the file is in use by another process, foreign, newer or corrupt.
        """
        from kraken_tui.paper.store import PaperAccountStore, StoreError

        store = PaperAccountStore(path)
        fresh = self.cfg.paper.fresh if self.opts.fresh is None else self.opts.fresh
        try:
            store.open(fresh=fresh)
            store.load(exchange)
        except StoreError as exc:
            store.close()
            raise ConfigError("paper account", str(path), f"a usable paper account file ({exc})") from None
        self.paper_store = store

    def _describe_run(self) -> None:
        """Put the profile and the paper account in the snapshot; say where the account comes from."""
        prof = self.profile
        store = self.paper_store
        self.engine.snapshots.run = dataclasses.replace(
            self.engine.snapshots.run, profile=prof.name if prof is not None else "",
            paper_account=str(store.path) if store is not None else None)
        if prof is None:
            return
        if store is not None:
            ex = self.paper_server.exchange
            held = f"{len(ex.positions)} position(s), {len(ex.open_orders)} open order(s)"
            text = (f"profile {prof.name}: paper account {store.path} resumed ({held})" if store.restored
                    else f"profile {prof.name}: new paper account {store.path}")
            self.engine.emit(EventKind.INFO, text, data={"profile": prof.name, "paper_account": str(store.path)})
        elif self.mode is EngineMode.REPLAY:
            self.engine.emit(EventKind.INFO, f"profile {prof.name}: the replay account starts empty and is "
                             "discarded when the run stops", data={"profile": prof.name})
        if prof.legacy_journal is not None:
            self.engine.emit(EventKind.INFO, f"profile {prof.name} keeps its own journal {prof.journal_path}; the "
                             f"journal shared by earlier versions stays at {prof.legacy_journal} (read it with "
                             "--journal)", data={"profile": prof.name})

    def _start_notifier(self) -> None:
        """Subscribe a Notifier to the engine when ``[notify]`` names channels (module docstring)."""
        if not self._notify_urls:
            return
        from kraken_tui.notify.sender import build_notifier
        from kraken_tui.notify.summary import run_daily_summary

        prof = self.profile.name if self.profile is not None else self.mode.value
        label = f"kraken-tui {prof}@{socket.gethostname()}"
        notifier = build_notifier(self.cfg.notify, label=label, urls=self._notify_urls)
        if notifier is None:
            return
        notifier.start()
        self.notifier = notifier
        self.engine.snapshots.notify = notifier.view
        self.engine.add_listener(notifier)
        if self.cfg.notify.daily_summary:
            self._tasks.append(asyncio.create_task(run_daily_summary(
                notifier, self.engine.snapshot, hour_utc=self.cfg.notify.summary_hour_utc, label=label),
                name="runtime-daily-summary"))

    async def _watch_source(self) -> None:
        """A market source that dies ends the run: HALTED with a CRITICAL event and exit code 1
        (``paper.sources.base.MarketSourceDied``; the console shows it and stays open)."""
        from kraken_tui.paper.sources.base import MarketSourceDied

        assert self.paper_server is not None and self.paper_server.source_done is not None
        await self.paper_server.source_done.wait()
        error = self.paper_server.source_error
        if error is not None and not self.engine.stopped:
            self.engine.fail(MarketSourceDied(str(getattr(self._source, "name", "source")), error))

    async def _exit_at_end(self) -> None:
        """When the replay ends: let the engine process what is queued, then stop it (positions and
        protective orders stay open on the paper exchange)."""
        assert self.paper_server is not None and self.paper_server.source_done is not None
        await self.paper_server.source_done.wait()
        if self.paper_server.source_error is not None:
            return  # a dead source is not the end of the replay (_watch_source)
        await asyncio.sleep(0.05)  # the last WS messages
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.engine.wait_idle(), timeout=10)
        await self.engine.stop("exit-at-end: the replay ended")

    async def wait_finished(self) -> int:
        """Wait until the engine finished (exit-at-end, kill condition, fatal error); return its exit code
        (0, 5 after an equity-floor halt, or the fatal error's code)."""
        await self.engine.finished.wait()
        return self.engine.exit_code

    async def aclose(self) -> None:
        """Stop in order: engine, WS, REST client, paper server, then the journal (complete when this
        returns). Idempotent."""
        if self._closed:
            return
        self._closed = True
        release_startup_heap()
        for t in self._tasks:
            t.cancel()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await self.engine.stop("quit")
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.stop()
        if self._http is not None:
            await self._http.close()
        if self.paper_server is not None:
            with contextlib.suppress(Exception):
                await self.paper_server.stop()
        if self.paper_store is not None:
            try:
                self.paper_store.close()  # the final state, after the exchange stopped
            except Exception:
                log.exception("paper account %s: final write failed", self.paper_store.path)
        if self.notifier is not None:
            with contextlib.suppress(Exception):
                self.engine.remove_listener(self.notifier)
            await asyncio.to_thread(self.notifier.stop)
        reason = "source died" if self.paper_server is not None and self.paper_server.source_error is not None \
            else "exit-at-end" if self.opts.exit_at_end and self.engine is not None and self.engine.exit_code == 0 \
            else "halted" if self.engine is not None and self.engine.exit_code == 5 else "quit"
        with contextlib.suppress(Exception):
            await self._journal.write(RunStopped(int(time.time() * 1000), reason))
        try:
            await self._journal.close()
        finally:
            self.locks.release()


def _config_hash(cfg: Config) -> str:
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


async def build_runtime(cfg: Config, opts: RunOptions) -> Runtime:
    """Validate the options and build (not start) a Runtime.

    Raises:
        ConfigError: unknown mode; live mode without ``[live] enabled = true``, or (without
            ``skip_paper_gate``) with a paper record missing a ``[live]`` promotion threshold
            (``kraken_tui.promotion``; the message names each one); bad source/replay flags; a bad profile name.
        SecretsError: live mode without API keys (environment or ``[credentials] key_file``); a notification
            URL file that is unreadable or not mode 0600.
        DataFileError: a malformed replay or funding file.
    """
    if opts.mode not in ("paper", "live"):
        raise ConfigError("--mode", opts.mode, "paper or live")
    profile = resolve_profile(cfg, opts)
    journal_path = profile.journal_path
    from kraken_tui.notify.secrets import (
        load_urls,  # SecretsError for an unsafe URL file, before anything runs
    )

    urls = load_urls(cfg.notify)
    if opts.mode == "live":
        creds = load_credentials(cfg)
        if creds is None:
            raise SecretsError("environment / [credentials] key_file",
                               "live mode needs API keys (KRAKEN_TUI_API_KEY and KRAKEN_TUI_API_SECRET, or a 0600 key file)")
        if not cfg.live.enabled:
            raise ConfigError("live.enabled", False, "true to trade real money on Kraken Futures (--mode live)")
        missed: list[str] = []
        if cfg.live.require_paper:
            from kraken_tui.promotion import paper_journal_path, promotion_failures, read_paper_record

            paper = paper_journal_path(cfg)
            missed = promotion_failures(cfg.live, await asyncio.to_thread(read_paper_record, paper))
            if missed and not opts.skip_paper_gate:
                raise ConfigError("live.require_paper", str(paper),
                                  "paper trading that meets every [live] threshold first (or --skip-paper-gate, "
                                  "journaled); not met: " + "; ".join(missed))
        rt = Runtime(cfg, opts, mode=EngineMode.LIVE, journal_path=journal_path, source=None, credentials=creds,
                     profile=profile, notify_urls=urls)
        rt.paper_gate_override = missed
        return rt
    from kraken_tui.paper.sources.factory import build_source  # the source stack loads only for paper runs
    from kraken_tui.paper.sources.replay import DEFAULT_FUNDING_RATE

    source = await build_source(
        "replay" if opts.replay else opts.source, symbols=cfg.paper.symbols, replay_paths=opts.replay,
        funding_path=Path(opts.funding) if opts.funding else None,
        funding_rate=(opts.funding_rate if opts.funding_rate is not None else DEFAULT_FUNDING_RATE)
        if opts.replay and not opts.funding else None,
        symbol_map=opts.symbol_map,
        speed="max" if opts.speed is None else opts.speed, seed=cfg.paper.synthetic_seed, ws_url=cfg.live.ws_url,
        live_timeout_s=cfg.client.timeout_s, client_config=cfg.client, backfill_h=cfg.paper.synthetic_backfill_h)
    mode = EngineMode.REPLAY if opts.replay else EngineMode.PAPER
    return Runtime(cfg, opts, mode=mode, journal_path=journal_path, source=source, credentials=None,
                   profile=profile, notify_urls=urls)
