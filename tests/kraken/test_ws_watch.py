"""FeedWatch (stale-feed detection) and the reconnect backoff, on a fake clock (seconds)."""

from __future__ import annotations

from kraken_tui.kraken.ws_events import FeedResumed, FeedStale
from kraken_tui.kraken.ws_watch import FeedWatch, backoff_delay_s, feed_keys


def test_feed_keys():
    assert feed_keys("book", ["A", "B"]) == [("book", "A"), ("book", "B")]
    assert feed_keys("fills", []) == [("fills", None)]


def test_stale_once_per_silence_then_resumed():
    w = FeedWatch(stale_after_s=15.0, watched_feeds={"ticker"})
    w.track(feed_keys("ticker", ["PF_XBTUSD"]) + feed_keys("fills", []), now=100.0)
    assert w.check(now=115.0) == []  # exactly 15 s is not "longer than"
    # 116.5 - 100 = 16.5 s silent; fills is tracked but not watched
    assert w.check(now=116.5) == [FeedStale("ticker", "PF_XBTUSD", 16.5)]
    assert w.check(now=200.0) == []  # reported once per silence
    assert w.seen(("ticker", "PF_XBTUSD"), now=201.0) == FeedResumed("ticker", "PF_XBTUSD")
    assert w.seen(("ticker", "PF_XBTUSD"), now=202.0) is None
    assert w.check(now=217.5) == [FeedStale("ticker", "PF_XBTUSD", 15.5)]  # 217.5 - 202


def test_restart_and_forget():
    w = FeedWatch(stale_after_s=1.0, watched_feeds={"book"})
    w.track([("book", "X")], now=0.0)
    w.restart(now=10.0)  # after a reconnect the silence counts from the reconnect
    assert w.check(now=10.5) == []
    w.forget([("book", "X")])
    assert w.check(now=99.0) == [] and w.seen(("book", "X"), now=99.0) is None


def test_backoff_full_jitter_is_capped_exponential():
    # ceiling = min(cap, base * 2 ** (attempt - 1)): 0.5, 1, 2, 4, 8, 16, 30, 30 ...
    assert [backoff_delay_s(a, base_s=0.5, cap_s=30, u=1.0) for a in range(1, 9)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0
    ]  # fmt: skip
    assert backoff_delay_s(3, base_s=0.5, cap_s=30, u=0.25) == 0.5  # 0.25 x 2.0
    assert backoff_delay_s(1000, base_s=0.5, cap_s=30, u=0.5) == 15.0  # no overflow at large attempts
    assert backoff_delay_s(1, base_s=0.5, cap_s=30, u=0.0) == 0.0
