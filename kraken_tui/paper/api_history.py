"""History-API handlers of the paper exchange (spec §4.18): account log (JSON and CSV), order, trigger,
execution and position event history, public market executions. Responses carry no ``result`` key.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from typing import Any

from kraken_tui.paper import wire
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.params import int_param

def account_log(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2|v3/account-log (spec §4.18)."""
    since, before = int_param(req, "since"), int_param(req, "before")
    id_from, id_to = int_param(req, "from"), int_param(req, "to")
    count = int_param(req, "count") or 500
    infos = set(req.multi.get("info", []))
    rows = [e for e in ex.account_log
            if (since is None or e.ts_ms >= since) and (before is None or e.ts_ms < before)
            and (id_from is None or e.id >= id_from) and (id_to is None or e.id <= id_to)
            and (not infos or e.info in infos)]
    if req.params.get("sort", "desc") != "asc":
        rows.reverse()
    return {"accountUid": ex.account_uid, "logs": [wire.account_log_row(e) for e in rows[: max(count, 0)]]}

