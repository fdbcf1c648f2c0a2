"""The paper exchange's coverage table (docs/paper-coverage.md), rendered from the route and feed tables.

Owns: ``coverage_markdown()`` -> the whole document as text: every REST endpoint of the spec (served routes from
``paper.routes.ROUTES`` with their rate-limit cost and pool, unserved ones from ``paper.routes.NOT_SERVED`` with the
reason) and every WebSocket feed of spec §7.2 (served from ``paper.ws_feeds``, others with the reason).
A test compares the rendered text with the file in the repository, so the document cannot drift from the code.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from kraken_tui.paper.routes import NOT_SERVED, ROUTES, Route
from kraken_tui.paper.ws_feeds import PRIVATE_FEEDS, PUBLIC_FEEDS

__all__ = ["coverage_markdown", "SPEC_WS_FEEDS"]

#: Every WebSocket v1 feed named in spec §7.2, with the reason for those the paper exchange does not serve.
SPEC_WS_FEEDS: tuple[tuple[str, str, str], ...] = (
    ("ticker", "§7.3", ""), ("ticker_lite", "§7.4", ""), ("heartbeat", "§7.5", ""), ("trade", "§7.6", ""),
    ("book", "§7.7", ""), ("open_orders", "§7.8", ""), ("open_orders_verbose", "§7.8", ""), ("fills", "§7.9", ""),
    ("open_positions", "§7.10", ""), ("balances", "§7.11", ""), ("account_log", "§7.12", ""),
    ("notifications_auth", "§7.13", "platform notices are served over REST `notifications` only"),
    ("account_balances_and_margins", "§7.2", "legacy feed, replaced by `balances`"),
    ("deposits_withdrawals", "§7.2", "legacy feed; the paper account has no deposits or withdrawals"),
)


def _cost(r: Route) -> str:
    if r.pool is None:
        return "0 (public)"
    extra = f"; {r.note}" if r.note and r.state == "served" else ""
    return f"{r.cost} {r.pool}{extra}"


def coverage_markdown() -> str:
    """The coverage document (Markdown). Deterministic: same tables, same text."""
    lines = [
        "# Paper exchange coverage",
        "",
        "Every REST endpoint and WebSocket feed of the Kraken Futures API reference (docs/kraken-futures-api.md)",
        "and whether `kraken-tui sim` serves it. Generated from the route table (`kraken_tui/paper/routes.py`) and",
        "the feed lists (`kraken_tui/paper/ws_feeds.py`) by `tests/paper/test_coverage.py`; regenerate with",
        "`KRAKEN_TUI_REGEN_COVERAGE=1 python -m pytest tests/paper/test_coverage.py`.",
        "",
        "Cost: rate-limit points per call and the pool they are charged to (`derivatives`: 500 per 10 s per key;",
        "`history`: 100 tokens, refilled 100 per 10 min), as the paper exchange enforces them (spec §5).",
        "",
        "## REST",
        "",
        "| method | path | auth | cost | state | spec | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ROUTES:
        note = r.note if r.state != "served" else ""
        lines.append(f"| {r.method} | `{r.pattern}` | {'yes' if r.private else 'no'} | {_cost(r)} | {r.state} | "
                     f"{r.spec} | {note} |")
    for e in NOT_SERVED:
        lines.append(f"| {e.method} | `{e.path}` | | | not served | {e.spec} | {e.why} |")
    lines += ["", "## WebSocket v1 feeds", "", "| feed | auth | state | spec | note |", "|---|---|---|---|---|"]
    served = set(PUBLIC_FEEDS) | set(PRIVATE_FEEDS)
    for name, spec, why in SPEC_WS_FEEDS:
        auth = "yes" if name in PRIVATE_FEEDS or name not in PUBLIC_FEEDS else "no"
        state = "served" if name in served else "not served"
        lines.append(f"| `{name}` | {auth} | {state} | {spec} | {why if state != 'served' else ''} |")
    return "\n".join(lines) + "\n"
