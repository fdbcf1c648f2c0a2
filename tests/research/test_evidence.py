"""The evidence runner of docs/research.md: the default-parameter run's churn figures and the table."""

from __future__ import annotations

import json

from kraken_tui.research.evidence import Case, default_run, table
from tests.backtest._util import PF_5M


def test_default_run_reports_churn(shared_data):
    r = default_run(Case("sma_cross", shared_data(PF_5M), "PF_XBTUSD"), "2025-08-30T00:00:00Z")
    assert r["trades"] > 5 and r["trades_per_day"] > 1
    assert r["net_pnl_usd"] < r["gross_pnl_usd"]  # fees were paid
    # sma_cross 10/20 on 5m bars reverses often: some trades are closed by a signal within the hour
    assert 0 < r["opposite_within_1h"] <= 1
    slow = default_run(Case("sma_cross", shared_data(PF_5M), "PF_XBTUSD"), "2025-08-30T00:00:00Z",
                       {"fast": 17, "slow": 50})
    assert slow["trades"] < r["trades"]


def test_table_has_one_row_per_case(tmp_path):
    doc = {"strategy": "sma_cross", "file": "x_5m.csv", "optimize": {
        "in_sample": {"net_pnl_usd": 12.4}, "out_of_sample": {"net_pnl_usd": -3.0, "trades": 7},
        "overfitting": {"deflated_sharpe": 0.5, "pbo": 0.25}},
        "default_oos": {"net_pnl_usd": -20.0, "gross_pnl_usd": 5.0, "fees_usd": 25.0, "trades_per_day": 3.5,
                        "opposite_within_1h": 0.4, "final_state": "RUNNING"}}
    (tmp_path / "sma_cross__x_5m.json").write_text(json.dumps(doc))
    rows = table(tmp_path).splitlines()
    assert len(rows) == 3
    assert rows[2] == "| sma_cross | x_5m | +12 | -3 (7) | -20 | +5 | 25 | 3.50 | 40% | RUNNING | 0.50 | 0.25 |"
