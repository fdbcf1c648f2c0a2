"""Operator tests: a private runtime dir (mode 0700, as XDG requires) so control sockets stay in the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _runtime_dir():
    d = Path(os.environ["XDG_RUNTIME_DIR"])
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    d.chmod(0o700)
    yield d
