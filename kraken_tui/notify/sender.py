"""Sending notifications off the engine's path: ``Notifier`` and the apprise channel.

Owns: ``Channel`` (what a destination does: ``send(title, body, level)``, raising ``SendFailed``),
``AppriseChannel`` (one apprise URL, https://github.com/caronc/apprise), ``Notifier`` (an engine listener:
picks the events to send (``rules.alert_for``), deduplicates and rate-limits them (``throttle.Throttle``) and
puts them on a bounded queue; one daemon thread sends them, retrying each failed channel with a doubling
backoff from ``backoff_s``; the engine's event loop never waits on a channel) and its health as a
``engine.facade.NotifyView``.

A channel that keeps failing is logged (masked), counted and reported (``view().failing``); it never raises
into the engine. Every text leaving this module (log lines, status, the apprise library's own log records
while a ``Notifier`` runs) passes the ``secrets.Masker`` so no channel URL or token reaches a log, the
journal or the screen.
Must not import: textual, the paper exchange, the UI.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from kraken_tui.config import NotifyConfig
from kraken_tui.engine.facade import EngineEvent, NotifyView
from kraken_tui.notify.rules import Alert, alert_for
from kraken_tui.notify.secrets import Masker, describe
from kraken_tui.notify.throttle import Throttle

__all__ = ["AppriseChannel", "Channel", "Notifier", "SendFailed", "build_notifier"]

log = logging.getLogger(__name__)
#: Loggers of the libraries that see channel URLs (apprise and the HTTP stack under it); their records are
#: masked while a Notifier runs (a logging filter applies to the records of the logger it is attached to).
MASKED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry",
                  "urllib3.response", "requests", "requests.packages.urllib3")


class SendFailed(Exception):
    """One attempt to deliver a notification failed; the message is already masked."""


class Channel(Protocol):
    """A destination. ``name`` is safe to show (no secret)."""

    name: str

    def send(self, title: str, body: str, level: str) -> None:
        """Deliver one notification (``level``: critical / warning / info).

        Raises:
            SendFailed: the destination did not accept it.
        """
        ...


class AppriseChannel:
    """One apprise URL (``json://``, ``tgram://``, ``discord://``, ``mailto://``, ``ntfy://`` ...).

    Args:
        url: the apprise URL (holds the channel's token; never shown: ``name`` is ``scheme://***``).
        timeout_s: per-attempt timeout, seconds.

    Raises:
        SendFailed: apprise does not understand the URL (message masked).
    """

    def __init__(self, url: str, timeout_s: float = 10.0, name: str | None = None) -> None:
        import apprise  # loaded only when notifications are configured

        self.name = name or describe(url)
        self._timeout_s = timeout_s
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise SendFailed(f"{self.name}: not a URL apprise understands")
        self._types = {"critical": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING,
                       "info": apprise.NotifyType.INFO}

    def send(self, title: str, body: str, level: str) -> None:
        """Send through apprise (blocking; run on the sender thread). Raises SendFailed when it reports failure."""
        ok = self._apprise.notify(body=body, title=title, notify_type=self._types.get(level, self._types["info"]),
                                  timeout=self._timeout_s)
        if not ok:
            raise SendFailed(f"{self.name}: delivery failed")


class _MaskFilter(logging.Filter):
    def __init__(self, mask: Masker) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.mask(record.getMessage()), None
        return True


class Notifier:
    """Engine listener that sends the serious events to the channels (module docstring).

    Args:
        channels: where to send (``AppriseChannel`` per configured URL; tests pass fakes).
        cfg: ``[notify]`` (dedupe_s, max_per_minute, retries, queue_size).
        label: the title prefix, e.g. ``kraken-tui paper`` (no secret).
        mask: the masker of every configured URL.
        backoff_s: first retry delay, seconds (doubles per retry).
        clock: monotonic seconds for the throttle.

    Call ``start()`` once, then pass the notifier to ``EngineControl.add_listener``; ``stop()`` at the end
    (always: it also removes the log masking installed here).
    """

    def __init__(self, channels: Sequence[Channel], cfg: NotifyConfig, *, label: str, mask: Masker,
                 backoff_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.channels = list(channels)
        self.cfg, self.label, self.mask, self.backoff_s = cfg, label, mask, backoff_s
        self.throttle = Throttle(cfg.dedupe_s, cfg.max_per_minute, clock)
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=cfg.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing: dict[str, str] = {}
        self.setup_errors: list[str] = []
        self.sent = 0
        self.dropped = 0
        self._filter = _MaskFilter(mask)
        for name in MASKED_LOGGERS:  # from now on: apprise logs the URLs it loads
            logging.getLogger(name).addFilter(self._filter)

    # ------------------------------------------------------------------ engine side (event loop)
    def __call__(self, event: EngineEvent) -> None:
        """The engine listener: queue the event's notification if it is one; never blocks, never raises."""
        try:
            alert = alert_for(event, label=self.label)
            if alert is not None:
                self.submit(alert)
        except Exception:  # a listener must not raise into the engine
            log.exception("notification listener failed")

    def submit(self, alert: Alert) -> bool:
        """Queue ``alert`` unless it is a duplicate, over the per-minute cap or the queue is full (dropped and
        counted). Returns True when queued."""
        if not self.channels or not self.throttle.admit(alert.key):
            if self.channels:
                self.dropped += 1
            return False
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            log.warning("notification queue full; dropped: %s", self.mask(alert.title))
            return False
        return True

    def view(self) -> NotifyView:
        """The health now (``NotifyView``): failing channels named ``scheme://***`` with a masked reason."""
        with self._lock:
            problems = [*self.setup_errors, *(f"{name}: {why}" for name, why in self._failing.items())]
        return NotifyView(channels=len(self.channels), failing=bool(problems), detail="; ".join(problems),
                          sent=self.sent, dropped=self.dropped, queued=self._queue.qsize())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the sender thread (daemon: a stuck channel never keeps the process alive). The library log
        records are masked from construction until ``stop``."""
        if self._thread is None and self.channels:
            self._thread = threading.Thread(target=self._run, name="kraken-tui-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Send what is queued (no more retries) for up to ``timeout_s`` seconds, then stop. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(timeout_s)
            self._thread = None
        for name in MASKED_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    # ------------------------------------------------------------------ sender thread
    def _run(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if alert is None:
                if self._queue.empty():
                    return
                continue
            for ch in self.channels:
                self._deliver(ch, alert)

    def _deliver(self, ch: Channel, alert: Alert) -> None:
        delay = self.backoff_s
        for attempt in range(self.cfg.retries + 1):
            try:
                ch.send(alert.title, alert.body, alert.level)
            except Exception as exc:  # any channel error: logged masked, retried, never raised
                why = self.mask(str(exc) or type(exc).__name__)
                log.warning("notification to %s failed (attempt %d): %s", ch.name, attempt + 1, why)
                with self._lock:
                    self._failing[ch.name] = why
                if self._stop.is_set() or self._stop.wait(delay):
                    return
                delay *= 2
                continue
            with self._lock:
                self._failing.pop(ch.name, None)
                self.sent += 1
            return


def build_notifier(cfg: NotifyConfig, *, label: str, urls: Sequence[str]) -> Notifier | None:
    """A ``Notifier`` over one ``AppriseChannel`` per URL (named ``#N scheme://***``), or None without URLs.
    A URL apprise rejects is left out and reported in ``view().detail`` (masked) so the health shows it."""
    if not urls:
        return None
    notifier = Notifier([], cfg, label=label, mask=Masker(urls))  # masks the library logs before the URLs load
    for i, url in enumerate(urls, 1):
        name = f"#{i} {describe(url)}"
        try:
            notifier.channels.append(AppriseChannel(url, cfg.timeout_s, name=name))
        except SendFailed:
            notifier.setup_errors.append(f"{name}: not a URL apprise understands")
    return notifier
