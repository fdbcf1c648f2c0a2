"""Where trials run: in this process, in local worker processes (``--jobs N``) or on a Ray cluster (``--ray``).

Owns: ``Executor`` (the protocol: ``map(tasks) -> outcomes`` in task order, ``close``), ``SerialExecutor``,
``ProcessExecutor``, ``RayExecutor``, ``make_executor`` and ``MissingExtraError``.

Every executor runs the same pure function (``evaluate.evaluate``) on the same tasks and returns the
outcomes in task order; the study asks its sampler for a whole batch before any outcome is told (``study``),
so the trial sequence, and therefore the best parameters, do not depend on the executor or on which worker
finishes first.
- ``ProcessExecutor``: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method (fresh
  interpreters: no lock held by another thread of this process, e.g. the progress bar's, can be inherited);
  the ``Workload`` is pickled once per worker by the pool's initializer.
- ``RayExecutor``: ``ray.init(address=...)`` (``auto``: the running cluster Ray finds; ``local``: start one
  on this machine; ``HOST:PORT`` or ``ray://HOST:PORT``), the ``Workload`` put once in the object store,
  one remote task per trial. Ray is the optional extra ``pip install 'kraken-tui[distributed]'``.
Must not import at module level: ray (optional).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from kraken_tui.errors import ConfigError, KrakenTuiError

from .evaluate import TrialOutcome, TrialTask, Workload, evaluate

__all__ = ["Executor", "MissingExtraError", "ProcessExecutor", "RayExecutor", "SerialExecutor", "make_executor"]


class MissingExtraError(KrakenTuiError):
    """An optional dependency is not installed (exit code 2); the message gives the pip command."""

    exit_code = 2


class Executor(Protocol):
    """Runs trial tasks; ``describe`` says where (one line for the report)."""

    describe: str

    def map(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """The outcomes of ``tasks``, in task order."""
        ...

    def close(self) -> None:
        """Release the workers (idempotent)."""
        ...


class SerialExecutor:
    """Trials one after the other in this process."""

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.describe = "serial (this process)"

    def map(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """``evaluate`` each task in order."""
        return [evaluate(self.w, t) for t in tasks]

    def close(self) -> None:
        """Nothing to release."""


_WORKLOAD: Workload | None = None


def _init_worker(w: Workload) -> None:
    global _WORKLOAD
    _WORKLOAD = w


def _run_task(task: TrialTask) -> TrialOutcome:
    assert _WORKLOAD is not None, "worker not initialised"
    return evaluate(_WORKLOAD, task)


class ProcessExecutor:
    """``jobs`` local worker processes (module docstring)."""

    def __init__(self, workload: Workload, jobs: int) -> None:
        self.describe = f"{jobs} local processes"
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(workload,))

    def map(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """Run the tasks on the pool, one contiguous share per worker (a trial takes milliseconds: fewer
        round trips); outcomes in task order."""
        assert self._pool is not None, "executor closed"
        share = max(1, -(-len(tasks) // self.jobs))
        return list(self._pool.map(_run_task, tasks, chunksize=share))

    def close(self) -> None:
        """Shut the pool down (waits for the workers to exit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Trials as Ray tasks (module docstring).

    Raises:
        MissingExtraError: ray is not installed.
        ConfigError: Ray cannot start or reach ``address`` (names ``--ray``).
    """

    def __init__(self, workload: Workload, address: str) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError(
                "--ray needs Ray: pip install 'kraken-tui[distributed]' (or pip install ray)") from None
        ray_: Any = ray  # typed as Any: the extra may be absent where mypy runs
        self._ray = ray_
        self._started = False
        if not ray_.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": "WARNING"}
            try:
                if address == "local":
                    ray_.init(**kwargs)
                else:
                    ray_.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError("--ray", address, f"a reachable Ray cluster, auto or local ({exc})") from None
            self._started = True
        self._ref = ray_.put(workload)
        self._remote = ray_.remote(evaluate)
        nodes = len(ray_.nodes())
        cpus = int(ray_.cluster_resources().get("CPU", 0))
        self.describe = f"Ray ({address}: {nodes} node(s), {cpus} CPUs)"

    def map(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """One remote task per trial; outcomes gathered in task order."""
        out: list[TrialOutcome] = self._ray.get([self._remote.remote(self._ref, t) for t in tasks])
        return out

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_executor(workload: Workload, jobs: int = 1, ray_address: str | None = None) -> Executor:
    """The executor for ``--jobs`` / ``--ray`` (``--ray`` wins; ``jobs`` 1 = serial).

    Raises:
        ConfigError: ``jobs`` below 1 (names ``--jobs``).
        MissingExtraError, ConfigError: from ``RayExecutor``.
    """
    if jobs < 1:
        raise ConfigError("--jobs", jobs, "at least 1")
    if ray_address is not None:
        return RayExecutor(workload, ray_address)
    if jobs == 1:
        return SerialExecutor(workload)
    return ProcessExecutor(workload, jobs)
