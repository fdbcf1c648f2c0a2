"""docs/paper-coverage.md is the rendering of the route table; every listed route resolves to its handler."""

from __future__ import annotations

import os
from pathlib import Path

from kraken_tui.paper.coverage import SPEC_WS_FEEDS, coverage_markdown
from kraken_tui.paper.routes import NOT_SERVED, ROUTES, resolve
from kraken_tui.paper.ws_feeds import PRIVATE_FEEDS, PUBLIC_FEEDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "paper-coverage.md"


def test_coverage_document_matches_the_route_table():
    text = coverage_markdown()
    if os.environ.get("KRAKEN_TUI_REGEN_COVERAGE") == "1":
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/paper-coverage.md is out of date: run KRAKEN_TUI_REGEN_COVERAGE=1 python -m pytest "
        "tests/paper/test_coverage.py")


def test_every_served_route_resolves_to_itself_and_unserved_ones_do_not():
    for r in ROUTES:
        path = r.pattern.replace("**", "mark/PF_XBTUSD").replace("*", "PF_XBTUSD")
        found = resolve(r.method, path)
        assert found is not None and found.handler is r.handler, r.pattern
    for e in NOT_SERVED:
        path = e.path.replace("{uid}", "u").replace("{symbol}", "PF_XBTUSD").replace("{type}", "funding")
        found = resolve(e.method, path)
        assert found is None or found.route.pattern.endswith("**"), e.path  # charts' catch-all answers 400


def test_every_served_feed_is_listed():
    listed = {name for name, _, _ in SPEC_WS_FEEDS}
    assert set(PUBLIC_FEEDS) | set(PRIVATE_FEEDS) <= listed
