"""Output of ``kraken-tui optimize``: the terminal report (rich tables, a plotext chart), the ``--json``
document and the best parameters as a TOML block ready to merge into config.toml.

Owns: ``best_toml``, ``json_report``, ``text_report``, ``oos_chart`` and ``trial_states`` /
``trial_states_line`` (every trial counted by state with its reasons).
JSON keys (docs/cli-contract.md: at least ``best``, ``in_sample``, ``out_of_sample``, ``trials``): ``study``,
``storage``, ``strategy``, ``files``, ``objective``, ``seed``, ``batch``, ``walk_forward``, ``trials`` (trials
finished over all folds), ``trials_per_fold``, ``best`` (``{"strategy": {...}, "risk": {...}, "exits":
{...}}``, the latest fold's best; null when no fold had a feasible trial), ``best_fold``, ``best_toml``,
``in_sample`` and ``out_of_sample`` (``objectives.metrics`` keys), ``overfitting`` (``objective_in_sample``:
mean of the folds' best train values; ``objective_out_of_sample``: the stitched test windows' value;
``gap`` = in - out; ``deflated_sharpe`` and ``pbo`` of the best fold), ``folds`` (one object per fold),
``executor``, ``resumed_trials``, ``elapsed_s``, ``notes``, ``trial_states`` (``{"total": n, "feasible" |
"infeasible" | "pruned" | "failed": {"count": n, "reasons": {reason: n}}}``; per fold too).
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from .study import FoldResult, StudyResult, objective_of

__all__ = ["best_toml", "json_report", "oos_chart", "text_report", "trial_states", "trial_states_line"]


def _grouped(values: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    if values is None:
        return None
    out: dict[str, dict[str, Any]] = {"strategy": {}, "risk": {}, "exits": {}}
    for key, v in values.items():
        group, _, name = key.partition(".")
        out[group][name] = v
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)  # exact: the block reproduces the trial
    return json.dumps(str(v))


def best_toml(res: StudyResult, strategy: str) -> str:
    """The best parameters as TOML (``[strategy]`` name, ``[strategy.params]``, ``[risk]``, ``[exits]`` with
    only the searched keys), commented with the study, fold and scores; "" when there is none."""
    g = _grouped(res.best_values)
    if g is None:
        return ""
    fold = next(f for f in res.folds if f.fold.index == res.best_fold)
    obj = res.spec.objective
    lines = [f"# kraken-tui optimize: study {res.spec.name}, fold {fold.fold.index} (train "
             f"{fold.fold.to_json()['train'][0]} .. {fold.fold.to_json()['train'][1]}), objective {obj} "
             f"{_num(fold.best.value if fold.best else None)} in sample, "
             f"{_num(fold.test.value if fold.test else None)} out of sample",
             "# merge these keys into config.toml", "[strategy]", f"name = {_toml_value(strategy)}"]
    if g["strategy"]:
        lines += ["", "[strategy.params]", *(f"{k} = {_toml_value(v)}" for k, v in g["strategy"].items())]
    for group in ("risk", "exits"):
        if g[group]:
            lines += ["", f"[{group}]", *(f"{k} = {_toml_value(v)}" for k, v in g[group].items())]
    return "\n".join(lines) + "\n"


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 8) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _fold_json(f: FoldResult) -> dict[str, Any]:
    return {**f.fold.to_json(), "best": _grouped(f.best_values), "best_trial": f.best_number,
            "in_sample": f.best.metrics if f.best else None, "out_of_sample": f.test.metrics if f.test else None,
            "objective_in_sample": f.best.value if f.best else None,
            "objective_out_of_sample": f.test.value if f.test else None,
            "trials": f.counts, "trial_states": f.states, "deflated_sharpe": f.deflated_sharpe, "pbo": f.pbo}


def trial_states(res: StudyResult) -> dict[str, Any]:
    """Every trial of the study by state, with the reasons (``study.explain_states`` summed over the folds):
    ``{"total": n, "<state>": {"count": n, "reasons": {reason: n}}}`` for the states ``feasible``,
    ``infeasible``, ``pruned`` and ``failed``; the counts add up to ``total``."""
    out: dict[str, Any] = {}
    total = 0
    for state in ("feasible", "infeasible", "pruned", "failed"):
        reasons: dict[str, int] = {}
        for f in res.folds:
            for why, n in f.states.get(state, {}).items():
                reasons[why] = reasons.get(why, 0) + n
        count = sum(reasons.values())
        total += count
        out[state] = {"count": count, "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))}
    return {"total": total, **out}


def trial_states_line(res: StudyResult) -> str:
    """One line: ``N trials: a feasible + b infeasible (why: n, ...) + c pruned (...) + d failed (...)``."""
    ts = trial_states(res)
    parts = []
    for state in ("feasible", "infeasible", "pruned", "failed"):
        st = ts[state]
        why = "; ".join(f"{r}: {n}" for r, n in st["reasons"].items()) if state != "feasible" else ""
        parts.append(f"{st['count']} {state}" + (f" ({why})" if why else ""))
    return f"{ts['total']} trials: " + " + ".join(parts)


def _overfitting(res: StudyResult) -> dict[str, Any]:
    vals = [f.best.value for f in res.folds if f.best is not None and f.best.value is not None]
    ins = sum(vals) / len(vals) if vals else None
    outs = objective_of(res.out_of_sample, res.spec.objective)
    best = next((f for f in res.folds if f.fold.index == res.best_fold), None)
    return {"objective_in_sample": ins, "objective_out_of_sample": outs,
            "gap": ins - outs if ins is not None and outs is not None else None,
            "deflated_sharpe": best.deflated_sharpe if best else None, "pbo": best.pbo if best else None}


def json_report(res: StudyResult, context: dict[str, Any]) -> dict[str, Any]:
    """The ``optimize --json`` document (module docstring); ``context`` adds ``strategy``, ``files``..."""
    s = res.spec
    doc: dict[str, Any] = {
        "study": s.name, "storage": str(s.storage), **context, "objective": s.objective, "seed": s.seed,
        "batch": s.batch, "walk_forward": s.mode,
        "trials": sum(sum(v for k, v in f.counts.items() if k != "infeasible") for f in res.folds),
        "trials_per_fold": s.trials, "best": _grouped(res.best_values), "best_fold": res.best_fold,
        "best_toml": best_toml(res, str(context.get("strategy", ""))),
        "in_sample": res.in_sample, "out_of_sample": res.out_of_sample, "overfitting": _overfitting(res),
        "folds": [_fold_json(f) for f in res.folds], "executor": res.executor, "resumed_trials": res.resumed,
        "elapsed_s": res.elapsed_s, "notes": res.notes, "trial_states": trial_states(res),
    }
    return dict(_clean(doc))


def _num(v: Any, fmt: str = "{:,.3f}") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return "-"
    return fmt.format(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def oos_chart(res: StudyResult, width: int = 100, height: int = 14, color: bool = False) -> str:
    """plotext chart of the stitched out-of-sample equity (the test windows' returns compounded from 10,000,
    a test window's start marked by a vertical line) and of the in-sample equity the same way; "" without
    returns."""
    import plotext as plt

    def curve(key: str) -> list[float]:
        eq, out = 10_000.0, [10_000.0]
        for f in res.folds:
            o = (f.best if key == "in" else f.test)
            for w in (o.windows if o else []):
                for r in w.returns:
                    eq *= 1.0 + r
                    out.append(eq)
        return out

    oos, ins = curve("out"), curve("in")
    if len(oos) < 2:
        return ""
    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear" if not color else "pro")
    plt.plot(list(range(len(oos))), oos, label="out of sample (test windows, stitched)")
    if len(ins) >= 2:
        step = (len(oos) - 1) / (len(ins) - 1)
        plt.plot([i * step for i in range(len(ins))], ins, label="in sample (train windows, best)")
    plt.title("equity, 10,000 at the start of the first window, compounded")
    text: str = plt.build()
    return text if color else _strip(text)


def _strip(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _short(iso: str) -> str:
    """``YYYY-MM-DDTHH:MM...`` -> ``YYYY-MM-DD HH:MM``."""
    return iso[:16].replace("T", " ")


def text_report(res: StudyResult, context: dict[str, Any], width: int = 110, color: bool = False) -> str:
    """The terminal report: header, folds table, in-sample vs out-of-sample table, over-fitting lines, the
    chart and the TOML block (rich tables rendered to text)."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system="standard" if color else None, force_terminal=color)
    s = res.spec
    con.print(f"kraken-tui optimize: {context.get('strategy')} on {', '.join(context.get('files', []))}")
    con.print(f"study {s.name} in {s.storage}; objective {s.objective}; {s.trials} trials x {s.folds} folds "
              f"({s.mode} walk-forward), seed {s.seed}, batch {s.batch}; {res.executor}; "
              f"{res.resumed} trials resumed from the storage; {res.elapsed_s:.1f} s")
    ft = Table(title="walk-forward folds (train: optimised; test: the train best, out of sample)")
    for col in ("fold", "train (UTC)", "test (UTC)", "trials c/p/f/inf", "best", f"{s.objective} in",
                f"{s.objective} out", "P&L in", "P&L out", "DSR", "PBO"):
        ft.add_column(col, overflow="fold")
    for f in res.folds:
        fj = f.fold.to_json()
        c = f.counts
        best = ", ".join(f"{k.partition('.')[2]}={_num(v, '{:g}')}" for k, v in (f.best_values or {}).items()) or "-"
        ft.add_row(str(f.fold.index), f"{_short(fj['train'][0])} .. {_short(fj['train'][1])}",
                   f"{_short(fj['test'][0])} .. {_short(fj['test'][1])}",
                   f"{c['complete']}/{c['pruned']}/{c['failed']}/{c['infeasible']}", best,
                   _num(f.best.value if f.best else None), _num(f.test.value if f.test else None),
                   _num(f.best.metrics.get("net_pnl_usd") if f.best else None, "{:,.2f}"),
                   _num(f.test.metrics.get("net_pnl_usd") if f.test and f.test.metrics else None, "{:,.2f}"),
                   _num(f.deflated_sharpe, "{:.2f}"), _num(f.pbo, "{:.2f}"))
    con.print(ft)
    mt = Table(title="in sample (train windows, each fold's best) vs out of sample (test windows, stitched)")
    mt.add_column("metric")
    mt.add_column("in sample", justify="right")
    mt.add_column("out of sample", justify="right")
    for key, fmt in (("net_pnl_usd", "{:,.2f}"), ("pnl_per_day_usd", "{:,.2f}"), ("trades", "{:,}"),
                     ("win_rate", "{:.1%}"), ("profit_factor", "{:.2f}"), ("sharpe", "{:.2f}"),
                     ("sortino", "{:.2f}"), ("calmar", "{:.2f}"), ("max_drawdown_pct", "{:.2f}"),
                     ("fees_usd", "{:,.2f}"), ("days", "{:.2f}")):
        mt.add_row(key, _num(res.in_sample.get(key), fmt), _num(res.out_of_sample.get(key), fmt))
    con.print(mt)
    of = _overfitting(res)
    con.print(f"over-fitting: {s.objective} {_num(of['objective_in_sample'])} in sample (mean of the folds' "
              f"best) vs {_num(of['objective_out_of_sample'])} out of sample, gap {_num(of['gap'])}; "
              f"deflated Sharpe ratio {_num(of['deflated_sharpe'], '{:.3f}')} (probability that the best "
              f"in-sample Sharpe beats luck over the trials; < 0.95: not significant); probability of backtest "
              f"over-fitting {_num(of['pbo'], '{:.2f}')} (CSCV; > 0.5: the in-sample best is usually below "
              f"median out of sample)")
    con.print(trial_states_line(res))
    for note in res.notes:
        con.print(f"note: {note}")
    chart = oos_chart(res, width=min(width, 120), color=color)
    toml = best_toml(res, str(context.get("strategy", "")))
    out = buf.getvalue()
    if chart:
        out += "\n" + chart.rstrip("\n") + "\n"
    out += "\n" + (toml or "no best parameters: no fold had a feasible trial\n")
    return out
