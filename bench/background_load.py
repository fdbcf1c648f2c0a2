"""``--background-load N`` for the benchmarks: N busy processes (pure Python CPU loops) running beside a bench,
the load average at its start and end. Import it as ``from bench.background_load import BackgroundLoad`` (the
benches put the repository's root on ``sys.path``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

__all__ = ["BackgroundLoad", "add_option"]


def add_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--background-load N`` (default 0) to a bench's ``parser``."""
    parser.add_argument("--background-load", type=int, default=0, metavar="N",
                        help="run N busy processes (pure Python CPU loops) beside the bench for its whole run")


class BackgroundLoad:
    """``n`` busy processes (pure Python CPU loops) running beside the bench, stopped (by their pid) on exit;
    the load average (1/5/15 min) at the start and the end (``describe``)."""

    def __init__(self, n: int) -> None:
        self.n = max(0, n)
        self.procs: list[Any] = []
        self.load_start = self.load_end = (0.0, 0.0, 0.0)

    def __enter__(self) -> BackgroundLoad:
        self.load_start = os.getloadavg()
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        if self.n:
            print(f"started {self.n} busy process(es): pids {', '.join(str(p.pid) for p in self.procs)}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.load_end = os.getloadavg()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except Exception:  # noqa: BLE001 (a process that ignores SIGTERM)
                proc.kill()

    def describe(self) -> str:
        """One line: how many busy processes on how many cores, the load average at the start and the end."""
        a, b = self.load_start, self.load_end
        return (f"{self.n} busy process(es) on {os.cpu_count()} cores; load average (1/5/15 min) "
                f"{a[0]:.2f}/{a[1]:.2f}/{a[2]:.2f} at start, {b[0]:.2f}/{b[1]:.2f}/{b[2]:.2f} at the end")
