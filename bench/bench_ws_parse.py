"""Benchmark: parse the recorded Kraken Futures WS file and rebuild its books; prints figures.

Run: python bench/bench_ws_parse.py [path/to/kraken_futures_ws_v1_2021-07-22.jsonl]
Measures json.loads + parse_ws_message + OrderBooks.apply over the 7,175 received messages (spec §7).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kraken_tui.kraken.book import OrderBooks
from kraken_tui.kraken.ws_events import BookDeltaEvent, BookSnapshotEvent
from kraken_tui.kraken.ws_parse import parse_ws_message

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/kraken/kraken_futures_ws_v1_2021-07-22.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    raws = [json.dumps(json.loads(line)["msg"]) for line in path.read_text().splitlines() if '"dir":"in"' in line]
    rounds = 20
    best = float("inf")
    for _ in range(rounds):
        books = OrderBooks()
        t0 = time.perf_counter()
        for raw in raws:
            ev = parse_ws_message(json.loads(raw))
            if isinstance(ev, BookSnapshotEvent | BookDeltaEvent):
                books.apply(ev)
        best = min(best, time.perf_counter() - t0)
    n = len(raws)
    print(f"messages: {n}, best of {rounds}: {best * 1e3:.1f} ms")
    print(f"throughput: {n / best:,.0f} msg/s, {best / n * 1e6:.2f} us/msg (json.loads + parse + book)")
    eth = books.get("PI_ETHUSD")
    print(f"PI_ETHUSD best bid {eth.best_bid()} best ask {eth.best_ask()}")


if __name__ == "__main__":
    main()
