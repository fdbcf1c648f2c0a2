"""Notifications through apprise to a local HTTP receiver: delivery, dedupe, rate limit, a failing or
unreachable channel that never blocks the caller, secret masking, the 0600 rule for the URL file, and which
engine events are sent."""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest

from kraken_tui.config import NotifyConfig
from kraken_tui.engine.facade import EngineEvent, EventKind, Severity
from kraken_tui.errors import SecretsError
from kraken_tui.notify.rules import Alert, alert_for
from kraken_tui.notify.secrets import Masker, describe, load_urls
from kraken_tui.notify.sender import build_notifier
from kraken_tui.notify.throttle import Throttle
from tests.notify.receiver import receiver

SECRET = "s3cr3t-T0ken-value"


def _wait(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def _halted(msg: str = "RUNNING -> HALTED: equity floor") -> EngineEvent:
    return EngineEvent(0, EventKind.STATE_CHANGE, msg, severity=Severity.CRITICAL,
                       data={"state": "HALTED", "previous": "RUNNING", "source": "automatic"})


def _cfg(**kw) -> NotifyConfig:
    return NotifyConfig.model_validate({"retries": 0, **kw})


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_critical_event_reaches_the_receiver_once_and_duplicates_are_dropped():
    with receiver() as rec:
        n = build_notifier(_cfg(), label="kraken-tui paper", urls=[f"json://127.0.0.1:{rec.port}/"])
        assert n is not None
        n.start()
        try:
            n(_halted())
            n(_halted())  # same text within dedupe_s: sent once
            _wait(lambda: n.view().sent == 1)
            time.sleep(0.3)
        finally:
            n.stop()
    assert len(rec.bodies) == 1
    body = rec.bodies[0]
    assert "HALTED: equity floor" in body["message"] and body["title"].startswith("kraken-tui paper")
    assert body["type"] == "failure"
    assert n.view().dropped == 1 and not n.view().failing


def test_rate_limit_caps_notifications_per_minute():
    with receiver() as rec:
        n = build_notifier(_cfg(max_per_minute=2), label="t", urls=[f"json://127.0.0.1:{rec.port}/"])
        assert n is not None
        n.start()
        try:
            for i in range(5):
                n(_halted(f"RUNNING -> HALTED: reason {i}"))
            _wait(lambda: n.view().sent == 2)
            time.sleep(0.3)
        finally:
            n.stop()
    assert len(rec.bodies) == 2 and n.view().dropped == 3


def test_throttle_window_and_cap():
    now = [0.0]
    th = Throttle(dedupe_s=10, max_per_minute=2, clock=lambda: now[0])
    assert th.admit("a") and not th.admit("a") and th.admit("b") and not th.admit("c")
    now[0] = 61.0
    assert th.admit("a") and th.admit("c")


@pytest.mark.parametrize("kind", ["http500", "closed", "slow"])
def test_a_failing_or_slow_channel_never_blocks_the_caller_and_is_reported_masked(kind, caplog):
    caplog.set_level(logging.DEBUG)
    with receiver() as rec:
        rec.status = 500 if kind == "http500" else 200
        rec.delay_s = 3.0 if kind == "slow" else 0.0
        port = _closed_port() if kind == "closed" else rec.port
        url = f"json://bot:{SECRET}@127.0.0.1:{port}/{SECRET}path?token={SECRET}"
        n = build_notifier(_cfg(timeout_s=1.0), label="t", urls=[url])
        assert n is not None
        n.start()
        try:
            t0 = time.perf_counter()
            for i in range(20):
                n(_halted(f"RUNNING -> HALTED: {i}"))
            elapsed = time.perf_counter() - t0
            assert elapsed < 1.0  # the engine's side only queues: one blocking send to the slow channel is 3 s
            _wait(lambda: n.view().failing, timeout_s=15)
            view = n.view()
        finally:
            t1 = time.perf_counter()
            n.stop(timeout_s=1.0)
            assert time.perf_counter() - t1 < 2.0
    assert view.failing and "json://***" in view.detail
    assert SECRET not in view.detail
    assert SECRET not in caplog.text and "bot:" not in caplog.text


def test_masker_and_describe():
    url = f"tgram://{SECRET}/12345678/?format=markdown"
    m = Masker([url])
    assert SECRET not in m(f"failed to post to {url} with {SECRET}")
    assert describe(url) == "tgram://***"


def test_urls_from_env_and_a_0600_file_only(tmp_path):
    f = tmp_path / "urls"
    f.write_text("# channels\njson://127.0.0.1:1/a\n\nform://127.0.0.1:2/b\n")
    os.chmod(f, 0o644)
    cfg = NotifyConfig(urls_env="X_URLS", urls_file=f)
    with pytest.raises(SecretsError) as exc:
        load_urls(cfg, env={})
    assert "0644" in str(exc.value) and "json://" not in str(exc.value)
    os.chmod(f, 0o600)
    assert load_urls(cfg, env={"X_URLS": "ntfy://t1, ntfy://t2"}) == [
        "ntfy://t1", "ntfy://t2", "json://127.0.0.1:1/a", "form://127.0.0.1:2/b"]


def _ev(kind: EventKind, msg: str, sev: Severity = Severity.INFO, **data) -> EngineEvent:
    return EngineEvent(0, kind, msg, severity=sev, data=data)


@pytest.mark.parametrize(("event", "sent"), [
    (_ev(EventKind.FLATTEN, "flatten started: F F", Severity.WARNING), True),
    (_ev(EventKind.FLATTEN, "flatten done: account flat", flat=True), True),
    (_ev(EventKind.FLATTEN, "flatten cancel (round 1): 3 orders"), False),
    (_ev(EventKind.STATE_CHANGE, "RUNNING -> PAUSED: daily loss limit", Severity.WARNING, state="PAUSED",
         source="automatic"), True),
    (_ev(EventKind.STATE_CHANGE, "RUNNING -> PAUSED: key", Severity.WARNING, state="PAUSED", source="key"), False),
    (_ev(EventKind.ALERT, "PF_XBTUSD liquidation risk HIGH", Severity.WARNING, risk_level="HIGH", level="HIGH"),
     False),
    (_ev(EventKind.ALERT, "PF_XBTUSD liquidation risk EXTREME", Severity.CRITICAL, risk_level="EXTREME",
         level="EXTREME"), True),
    (_ev(EventKind.ALERT, "PF_XBTUSD: protective stop order removed by the exchange", Severity.WARNING), True),
    (_ev(EventKind.FEED, "market data stale (40 s); entries blocked", Severity.WARNING), True),
    (_ev(EventKind.RECONCILIATION, "reconciliation: size differs", Severity.WARNING), True),
    (_ev(EventKind.FILL, "PF_XBTUSD long 0.01 filled"), False),
])
def test_which_events_are_sent(event, sent):
    assert (alert_for(event, label="t") is not None) is sent


def test_no_urls_no_notifier():
    assert build_notifier(_cfg(), label="t", urls=[]) is None
    assert isinstance(Alert("a", "b", "info", "b"), Alert)
