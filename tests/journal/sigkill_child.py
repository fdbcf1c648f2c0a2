"""Child process of test_sigkill: writes fills through JournalWriter until it is killed.

argv: journal path, side file, round number. Prints "ready" once the writer has started. Each loop
writes a batch of fills, awaits ``flush()`` (committed) and only then appends their ids to the side
file, so every id in the side file is known to be committed. It first replays the last ids of the
side file (a restart re-delivering fills the exchange already sent), which must be idempotent.
"""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.journal.writer import JournalWriter


def _fill(fid: str, i: int) -> Fill:
    return Fill(fid, "o" + fid, "PF_XBTUSD", Side.BUY if i % 2 else Side.SELL, Decimal("0.001"),
                Decimal("50000.5"), i, FillType.MAKER, None, Decimal("0.01"), "USD")


async def main(path: Path, side: Path, rnd: int, known: list[str]) -> None:
    w = JournalWriter(path, queue_max=256, batch_max=64)
    await w.start()
    for i, fid in enumerate(known[-10:]):
        await w.write(_fill(fid, i))
    fd = os.open(side, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    n = 0
    while True:
        ids = [f"r{rnd}-{n + k}" for k in range(25)]
        for k, fid in enumerate(ids):
            await w.write(_fill(fid, n + k))
        await w.flush()
        os.write(fd, ("\n".join(ids) + "\n").encode())
        n += len(ids)


if __name__ == "__main__":
    side_file = Path(sys.argv[2])
    committed = side_file.read_text().split() if side_file.exists() else []
    asyncio.run(main(Path(sys.argv[1]), side_file, int(sys.argv[3]), committed))
