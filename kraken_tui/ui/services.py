"""How the console gets its engine: ``EngineServices`` (a protocol the app is handed) and
``RuntimeServices``, which builds the real runtime (``kraken_tui.runtime.build_runtime``) inside the app's
event loop, starts it, serves its control socket (``kraken_tui.control.ControlServer``, so ``kraken-tui ctl``
and ``kraken-tui flatten`` reach the console as they reach a headless run), waits for it to finish and
closes it.

The app never builds anything itself (it is handed its services, like toolong and memray); tests hand
it a fake engine instead. Must not import: textual.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from kraken_tui.config import Config, load_credentials
from kraken_tui.engine.facade import EngineControl

__all__ = ["EngineServices", "RuntimeServices"]

log = logging.getLogger(__name__)


class EngineServices(Protocol):
    """Lifecycle of the engine behind the console (all on the app's event loop)."""

    async def open(self) -> EngineControl:
        """Build and start everything; return the engine. Raises the error that stopped the start."""
        ...

    async def wait(self) -> int:
        """Return the engine's exit code once it finished on its own (replay end, kill condition)."""
        ...

    async def close(self) -> None:
        """Stop everything in order; safe to call after a failed ``open``."""
        ...

    @property
    def journal_path(self) -> str | None:
        """The journal file in use (None before ``open``)."""
        ...

    def live_target(self) -> str | None:
        """Where real orders would go (e.g. "Kraken Futures https://futures.kraken.com (API keys from the
        environment)") when the run trades real money and the operator must type a confirmation before
        ``open``; None for paper and replay. Optional: services without it never ask."""
        ...


class RuntimeServices:
    """``EngineServices`` over ``kraken_tui.runtime`` (``build_runtime``/``Runtime``).

    Args:
        cfg: the loaded configuration.
        opts: ``kraken_tui.runtime.RunOptions`` from the ``run`` command.
        serve_ctl: serve the control socket once the engine started (default True).

    Attributes:
        ctl_socket: the control socket path while served (None before ``open`` or when it could not be bound:
            logged; the console still runs).
    """

    def __init__(self, cfg: Config, opts: Any, *, serve_ctl: bool = True) -> None:
        self._cfg = cfg
        self._opts = opts
        self._runtime: Any = None
        self._serve_ctl = serve_ctl
        self._ctl: Any = None
        self.ctl_socket: str | None = None
        self.exit_at_end = bool(getattr(opts, "exit_at_end", False))
        """Quit the console when the engine finishes (``--exit-at-end``)."""
        self.mode = str(getattr(opts, "mode", "paper") or "paper")
        """``paper`` or ``live`` (``RunOptions.mode``)."""

    def live_target(self) -> str | None:
        """The exchange URL and where the API keys come from, for ``--mode live``; None otherwise.
        Never contains a secret; an unreadable key file is left for ``build_runtime`` to report."""
        if self.mode != "live":
            return None
        target = f"Kraken Futures {self._cfg.live.rest_url}"
        try:
            creds = load_credentials(self._cfg)
        except Exception:  # SecretsError: build_runtime raises it with its exit code after the confirmation
            creds = None
        if creds is not None:
            where = "the environment" if creds.source == "environment" else f"the key file {creds.source}"
            target += f" (API keys from {where})"
        return target

    async def open(self) -> EngineControl:
        from kraken_tui.runtime import build_runtime  # imported late: it pulls in the whole engine

        self._runtime = await build_runtime(self._cfg, self._opts)
        await self._runtime.start()
        engine: EngineControl = self._runtime.engine
        if self._serve_ctl:
            await self._start_ctl(engine)
        return engine

    async def _start_ctl(self, engine: EngineControl) -> None:
        """Serve ``kraken-tui ctl`` for this console (the same commands as a headless run)."""
        from kraken_tui.control import ControlServer

        rt = self._runtime
        mode = getattr(rt.mode, "value", rt.mode)
        journal = getattr(rt, "journal_path", None)
        ctl = ControlServer(engine, info={"kind": "console", "mode": str(mode),
                                          "journal": str(journal) if journal else None,
                                          "started_ms": int(time.time() * 1000)})
        try:
            self.ctl_socket = str(await ctl.start())
        except OSError as exc:
            log.warning("control socket not served (kraken-tui ctl cannot reach this console): %s", exc)
            return
        self._ctl = ctl
        log.info("control socket: %s", self.ctl_socket)

    async def wait(self) -> int:
        if self._runtime is None:
            return 0
        return await self._runtime.wait_finished()

    async def close(self) -> None:
        if self._ctl is not None:
            ctl, self._ctl = self._ctl, None
            self.ctl_socket = None
            await ctl.stop()
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            await runtime.aclose()

    @property
    def journal_path(self) -> str | None:
        path = getattr(self._runtime, "journal_path", None)
        return None if path is None else str(path)
