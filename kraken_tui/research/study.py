"""The study runner behind ``kraken-tui optimize``: walk-forward folds, each an optuna study, trials in batches.

Owns: ``StudySpec``, ``FoldResult``, ``StudyResult``, ``open_storage`` and ``run_study``.

Per fold (``folds.make_folds``) one optuna study named ``NAME.foldK`` in the SQLite storage, maximising the
objective over the fold's train window with a seeded TPE sampler (optuna's ``TPESampler``, multivariate, with
the constraints of ``objectives.constraint_values`` set on each trial, ``Trial.set_constraint``) and median pruning on the
net P&L at each quarter of the window (``evaluate``). Then the best feasible trial (highest value, lowest
number on a tie) is backtested on the fold's test window, out of sample.

Determinism (the same best parameters serially, with ``--jobs N`` and on Ray): the sampler is asked for a
whole batch of ``batch`` trials before any outcome is told, with a sampler seeded by (seed, fold, batch
number); the batch is evaluated anywhere (``executors``), the outcomes are told in trial order, and pruning
thresholds come from the trials told before the batch. So each batch's parameters depend only on the seed and
on the outcomes of earlier batches, which are pure functions of their parameters. ``batch`` is part of the
study's settings (not derived from ``--jobs``): changing it changes the trial sequence.

Storage and resuming: the trials are asked and told in an in-memory study (optuna's SQLite storage costs
50-250 ms per ask/tell on this machine; in memory ~8 ms) and each finished batch is appended to the SQLite
study (``add_trials``, WAL journal) by a writer thread, while the next batch is evaluated. ``--study NAME`` on an existing study loads its finished trials and runs
only the missing ones; the batch seeds make the result the same as an uninterrupted run. A study records the
fingerprint of its settings (space, data files' sha256, costs, objective, folds, seed, batch); resuming it
with other settings is refused.
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import copy
import hashlib
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kraken_tui.errors import ConfigError

from .evaluate import TrialOutcome, TrialTask, Workload, evaluate
from .executors import Executor
from .folds import Fold, make_folds
from .objectives import WindowStats, metrics, objective_value
from .overfit import deflated_sharpe, pbo_cscv
from .space import SearchSpace

if TYPE_CHECKING:
    import optuna

__all__ = ["FoldResult", "StudyResult", "StudySpec", "open_storage", "run_study"]

#: Completed trials before the median pruning starts (optuna MedianPruner's n_startup_trials).
PRUNE_STARTUP = 5
#: Random trials before TPE models the results (TPESampler's n_startup_trials).
TPE_STARTUP = 10
#: Names of the constraint values (objectives.constraint_values), as stored on each trial.
CONSTRAINTS = ("min_trades", "max_drawdown_pct")
#: Row blocks of the CSCV estimate of the probability of backtest over-fitting.
PBO_BLOCKS = 8


@dataclass
class StudySpec:
    """Settings of one study: ``name`` (the optuna study names are ``NAME.foldK``), SQLite ``storage``
    path, ``objective``, ``trials`` per fold, ``folds``, ``mode`` (anchored|rolling), ``train_segments``,
    ``seed``, ``batch``, the ``space`` and ``fingerprint`` (sha256 of every setting that shapes results)."""

    name: str
    storage: Path
    objective: str
    trials: int
    folds: int
    mode: str
    train_segments: int
    seed: int
    batch: int
    space: SearchSpace
    fingerprint: str


@dataclass
class FoldResult:
    """One fold: the ``fold``, its best train trial (``best``: outcome on the train window, ``best_values``
    its parameters), the ``test`` outcome of those parameters, trial ``counts`` by state, ``history``
    (objective per trial in trial order, None where failed or pruned), ``deflated_sharpe`` and ``pbo``."""

    fold: Fold
    best: TrialOutcome | None
    best_number: int | None
    best_values: dict[str, Any] | None
    test: TrialOutcome | None
    counts: dict[str, int]
    history: list[float | None]
    deflated_sharpe: float | None = None
    pbo: float | None = None
    states: dict[str, dict[str, int]] = field(default_factory=dict)
    """Every trial of the fold by state and reason (``explain_states``)."""


def reason_group(reason: str | None) -> str:
    """A failed or pruned trial's reason without its numbers, so that trials failing for the same rule count
    together: a ``ConfigError`` text ``key = value: expected E`` -> ``bad parameters: key (expected E)``;
    ``net P&L x USD below the median y at step k`` -> ``net P&L below the running median at step k``; others
    as they are (``no bars in the window``, ``<objective> undefined (...)``)."""
    import re

    if not reason:
        return "no reason recorded"
    m = re.match(r"^(\S+) = .*?: expected (.*)$", reason, re.S)
    if m:  # the numbers of one trial (e.g. "fewer bars than slow (7)") dropped
        expected = re.sub(r"\s*\([-+\d.e]+\)", "", m.group(2))
        return f"bad parameters: {m.group(1)} (expected {expected})"
    m = re.match(r"^net P&L .* below the median .* at step (\d+)$", reason)
    if m:
        return f"net P&L below the running median at step {m.group(1)} (median pruning)"
    return reason


def explain_states(trials: Sequence[optuna.trial.FrozenTrial], min_trades: int,
                   max_drawdown_pct: float) -> dict[str, dict[str, int]]:
    """Every finished trial counted once, by state and reason: ``feasible`` (complete, within the
    constraints: {"scored": n}), ``infeasible`` (complete but outside a constraint: "fewer than N trades",
    "max drawdown above X %"; both when both), ``pruned`` and ``failed`` (by ``reason_group`` of the reason
    recorded with the trial). The counts of the four states add up to the trials."""
    from optuna.trial import TrialState

    out: dict[str, dict[str, int]] = {"feasible": {}, "infeasible": {}, "pruned": {}, "failed": {}}

    def add(state: str, why: str) -> None:
        out[state][why] = out[state].get(why, 0) + 1

    for t in trials:
        if t.state == TrialState.COMPLETE:
            if t.user_attrs.get("feasible"):
                add("feasible", "scored")
                continue
            c = t.user_attrs.get("constraints")
            if not c:
                add("infeasible", "outside a constraint (values not recorded)")
                continue
            why = []
            if c[0] > 0:
                why.append(f"fewer than {min_trades} trades")
            if len(c) > 1 and c[1] > 0:
                why.append(f"max drawdown above {max_drawdown_pct:g} %")
            add("infeasible", " and ".join(why) or "objective not scored")
        elif t.state == TrialState.PRUNED:
            add("pruned", reason_group(t.user_attrs.get("reason")))
        elif t.state == TrialState.FAIL:
            add("failed", reason_group(t.user_attrs.get("reason")))
        else:
            add("failed", f"not finished ({t.state.name.lower()})")
    return out


@dataclass
class StudyResult:
    """The study: ``folds``, ``best_values`` (the latest fold with a feasible trial: what to trade next),
    stitched ``in_sample`` (the folds' train windows with their own best) and ``out_of_sample`` (the test
    windows) metrics, the ``executor`` used, ``resumed`` (trials loaded from the storage) and ``elapsed_s``."""

    spec: StudySpec
    folds: list[FoldResult]
    best_values: dict[str, Any] | None
    best_fold: int | None
    in_sample: dict[str, Any]
    out_of_sample: dict[str, Any]
    executor: str
    resumed: int = 0
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def open_storage(path: Path) -> Any:
    """optuna's RDB storage on the SQLite file ``path`` (created with its folder), in WAL mode.

    Raises:
        ConfigError: the file cannot be created or opened (names ``--storage``).
    """
    import optuna
    from sqlalchemy import event

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/alembic raise many kinds; all mean "unusable file"
        raise ConfigError("--storage", str(path), f"a writable SQLite file ({type(exc).__name__}: {exc})") from None

    def _pragmas(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", _pragmas)
    storage.engine.dispose()
    return storage


def _seed(seed: int, fold: int, batch_no: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{fold}:{batch_no}".encode()).digest()[:4], "big")


def _distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for r in space.ranges:
        if r.kind == "categorical":
            out[r.key] = CategoricalDistribution(list(r.choices))
        elif r.kind == "int":
            assert r.low is not None and r.high is not None
            out[r.key] = IntDistribution(int(r.low), int(r.high), log=r.log, step=int(r.step or 1))
        else:
            assert r.low is not None and r.high is not None
            out[r.key] = FloatDistribution(float(r.low), float(r.high), log=r.log, step=r.step)
    return out


def _thresholds(study: optuna.Study, steps: int) -> list[float | None] | None:
    """The median rule's thresholds per step from the completed trials (None before PRUNE_STARTUP of them)."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < PRUNE_STARTUP:
        return None
    out: list[float | None] = [None]
    for k in range(1, steps):
        vals = [t.intermediate_values[k] for t in done if k in t.intermediate_values]
        out.append(statistics.median(vals) if len(vals) >= PRUNE_STARTUP else None)
    return out


def _tell(study: optuna.Study, trial: optuna.Trial, o: TrialOutcome) -> None:
    from optuna.trial import TrialState

    for k, v in enumerate(o.intermediate):
        trial.report(v, k)
    for key, c in zip(CONSTRAINTS, o.constraints or [0.0, 0.0], strict=True):
        trial.set_constraint(key, c)  # TPE ranks feasible trials first (<= 0 = satisfied)
    trial.set_user_attr("feasible", o.feasible)
    if o.constraints:
        trial.set_user_attr("constraints", list(o.constraints))
    if o.metrics:
        trial.set_user_attr("metrics", {k: v for k, v in o.metrics.items()})
    if o.reason:
        trial.set_user_attr("reason", o.reason)
    if o.state == "complete":
        study.tell(trial, o.value)
    elif o.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    from optuna.trial import TrialState

    ok = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
          if t.user_attrs.get("feasible") and t.value is not None]
    if not ok:
        return None
    return min(ok, key=lambda t: (-float(t.value or 0.0), t.number))


def _load(spec: StudySpec, storage: Any, fold: Fold) -> optuna.Study:
    import optuna

    name = f"{spec.name}.fold{fold.index}"
    persisted = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    have = persisted.user_attrs.get("fingerprint")
    if have is None:
        persisted.set_user_attr("fingerprint", spec.fingerprint)
        persisted.set_user_attr("fold", fold.to_json())
    elif have != spec.fingerprint:
        raise ConfigError("--study", spec.name, "a new study name: this study was run with other settings "
                          "(space, data, costs, objective, folds, seed or batch)")
    return persisted


def _returns_for_pbo(outcomes: list[TrialOutcome]) -> list[list[float]]:
    rows = [[x for w in o.windows for x in w.returns] for o in outcomes if o.state == "complete" and o.windows]
    if not rows:
        return []
    n = min(len(r) for r in rows)
    return [r[len(r) - n:] for r in rows]


class _Persister:
    """Appends finished batches to the SQLite study on a thread of its own, so that writing batch k overlaps
    evaluating batch k + 1 (the workers of ``--jobs``/Ray are otherwise idle while SQLAlchemy writes). ``close``
    waits for the last batch and raises the first error met."""

    def __init__(self, study: optuna.Study) -> None:
        import queue
        import threading

        self._study = study
        self._q: queue.Queue[list[Any] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="optimize storage writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (batch := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._study.add_trials(batch)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread by close()
                    self._error = exc

    def put(self, trials: list[Any]) -> None:
        """Queue finished trials (frozen copies) for the storage."""
        self._q.put(trials)

    def close(self) -> None:
        """Wait until every queued batch is written.

        Raises:
            ConfigError: a batch could not be written (names ``--storage``).
        """
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise ConfigError("--storage", "...", f"a writable optuna storage ({type(self._error).__name__}: "
                              f"{self._error})") from self._error


def _batches(spec: StudySpec, mem: optuna.Study, dists: dict[str, Any], w: Workload, ex: Executor, fold: Fold,
             writer: _Persister, outcomes: dict[int, TrialOutcome], done: int, progress: Callable[[int], None]
             ) -> None:
    """Ask, evaluate and tell batches until the fold has ``spec.trials`` finished trials (module docstring)."""
    import optuna

    while done < spec.trials:
        b = min(spec.batch, spec.trials - done)
        mem.sampler = optuna.samplers.TPESampler(
            seed=_seed(spec.seed, fold.index, done // spec.batch), n_startup_trials=TPE_STARTUP,
            multivariate=True)
        asked = [mem.ask(fixed_distributions=dists) for _ in range(b)]
        limits = _thresholds(mem, w.steps)
        tasks = [TrialTask(t.number, dict(t.params), fold.train_start_ms, fold.train_end_ms, limits) for t in asked]
        for t, o in zip(asked, ex.map(tasks), strict=True):
            _tell(mem, t, o)
            outcomes[t.number] = o
        writer.put([copy.deepcopy(t) for t in mem.get_trials(deepcopy=False)[-b:]])
        done += b
        progress(b)


def _fold(spec: StudySpec, storage: Any, w: Workload, ex: Executor, fold: Fold,
          progress: Callable[[int], None]) -> tuple[FoldResult, int]:
    import optuna
    from optuna.trial import TrialState

    persisted = _load(spec, storage, fold)
    mem = optuna.create_study(direction="maximize")
    stored = [t for t in persisted.get_trials(deepcopy=False) if t.state.is_finished()]
    if stored:
        mem.add_trials(stored)
        progress(min(len(stored), spec.trials))
    dists = _distributions(spec.space)
    outcomes: dict[int, TrialOutcome] = {}
    done = len(stored)
    writer = _Persister(persisted)
    try:
        _batches(spec, mem, dists, w, ex, fold, writer, outcomes, done, progress)
    finally:
        writer.close()
    trials = mem.get_trials(deepcopy=False)
    counts = {s: sum(1 for t in trials if t.state == st) for s, st in
              (("complete", TrialState.COMPLETE), ("pruned", TrialState.PRUNED), ("failed", TrialState.FAIL))}
    counts["infeasible"] = sum(1 for t in trials if t.state == TrialState.COMPLETE and not t.user_attrs.get("feasible"))
    history = [t.value if t.state == TrialState.COMPLETE else None for t in trials]
    states = explain_states(trials, w.min_trades, w.max_drawdown_pct)
    best_t = _best(mem)
    if best_t is None:
        return FoldResult(fold, None, None, None, None, counts, history, states=states), len(stored)
    values = dict(best_t.params)
    best = outcomes.get(best_t.number) or evaluate(w, TrialTask(best_t.number, values, fold.train_start_ms,
                                                                  fold.train_end_ms))
    test = evaluate(w, TrialTask(best_t.number, values, fold.test_start_ms, fold.test_end_ms))
    # deflated Sharpe of the selection: the per-period Sharpe of every completed trial
    srs = [float(t.user_attrs["metrics"]["sharpe_per_period"]) for t in trials if t.state == TrialState.COMPLETE
           and t.user_attrs.get("metrics", {}).get("sharpe_per_period") is not None]
    m = best.metrics
    dsr = (deflated_sharpe(m["sharpe_per_period"], m["periods"], m["skew"], m["kurtosis"], srs)
           if m.get("sharpe_per_period") is not None else None)
    # PBO over the completed trials' train-window returns (trials loaded from the storage are re-run: pure)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    missing = [TrialTask(t.number, dict(t.params), fold.train_start_ms, fold.train_end_ms)
               for t in complete if t.number not in outcomes]
    for o in ex.map(missing) if missing else []:
        outcomes[o.number] = o
    rets = _returns_for_pbo([outcomes[t.number] for t in complete if t.number in outcomes])
    pbo = pbo_cscv(rets, PBO_BLOCKS) if len(rets) >= 2 else None
    return FoldResult(fold, best, best_t.number, values, test, counts, history, dsr, pbo, states), len(stored)


def run_study(spec: StudySpec, w: Workload, ex: Executor, progress: Callable[[int], None] | None = None
              ) -> StudyResult:
    """Run (or resume) the walk-forward study (module docstring).

    Args:
        spec: the study's settings.
        w: the shared workload (markets, configs, objective, constraints).
        ex: where trials run.
        progress: called with the number of trials just finished (loaded ones included).

    Raises:
        ConfigError: a resumed study with other settings, an unusable storage, or folds without bars.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    t0 = time.perf_counter()
    first = min(m.rows[0][0] for m in w.markets)
    end = max(m.rows[-1][0] + m.bar_ms for m in w.markets)
    folds = make_folds(first, end, spec.folds, "rolling" if spec.mode == "rolling" else "anchored",
                       spec.train_segments)
    storage = open_storage(spec.storage)
    results: list[FoldResult] = []
    resumed = 0
    for fold in folds:
        fr, n = _fold(spec, storage, w, ex, fold, progress or (lambda _n: None))
        results.append(fr)
        resumed += n
    with_best = [f for f in results if f.best is not None and f.test is not None]
    is_windows: list[WindowStats] = [x for f in with_best if f.best for x in f.best.windows]
    oos_windows: list[WindowStats] = [x for f in with_best if f.test for x in f.test.windows]
    latest = with_best[-1] if with_best else None
    res = StudyResult(spec, results, latest.best_values if latest else None, latest.fold.index if latest else None,
                      metrics(is_windows) if is_windows else {}, metrics(oos_windows) if oos_windows else {},
                      ex.describe, resumed, time.perf_counter() - t0)
    for f in results:
        if f.best is None:
            res.notes.append(f"fold {f.fold.index}: no feasible trial (constraints or undefined objective); "
                             "its test window is not in the out-of-sample record")
    return res


def objective_of(m: dict[str, Any], objective: str) -> float | None:
    """``objectives.objective_value`` of a metrics dict that may be empty (no fold had a feasible trial)."""
    return objective_value(m, objective) if m else None
