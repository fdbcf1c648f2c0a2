"""The control socket's client: one request to a running instance.

Owns: ``request`` (send one JSON request line, read one answer), ``send`` (one request object), ``pick_instance``
(the one running instance, or a refusal naming each running one and its kind) and ``list_instances`` (``ctl
list`` rows). Every request has a timeout (``DEFAULT_TIMEOUT_S``, ``ctl --timeout S``); an instance that accepts
but does not answer raises ``NoAnswer``. The ``kraken-tui ctl`` command that uses them is ``control.ctl_cmd``.

``ctl list --json``: a list of ``{"pid": int, "kind": "console|headless|unknown", "mode": str|null,
"state": "RUNNING|PAUSED|FLATTENING|HALTED"|null (null: did not answer), "state_reason": str|null,
"journal": str|null, "started_ms": int|null, "socket": str}``.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kraken_tui.control.paths import Instance, find_instances, runtime_dir
from kraken_tui.control.protocol import MAX_LINE

__all__ = ["CONNECT_TIMEOUT_S", "DEFAULT_TIMEOUT_S", "NoAnswer", "list_instances", "pick_instance", "request",
           "send"]


CONNECT_TIMEOUT_S = 3.0
"""Seconds ``request`` waits to connect and send before it gives up on an instance."""
DEFAULT_TIMEOUT_S = {"flatten": 120.0, "status": 10.0, "health": 5.0, "manual": 60.0}
"""Seconds ``ctl`` waits for an answer, per command (others: 10 s); ``--timeout`` overrides."""


class NoAnswer(TimeoutError):
    """The instance accepted the request but did not answer within the timeout (stopped or hung)."""


async def request(path: Path, cmd: str, reason: str | None = None, *, timeout_s: float = 10.0,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request ``{"cmd": cmd, "reason": reason}`` to the instance at ``path`` and return its answer
    (``send`` with that object; it raises what ``send`` raises)."""
    return await send(path, {"cmd": cmd, "reason": reason}, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)


async def send(path: Path, obj: dict[str, Any], *, timeout_s: float = 10.0,
               connect_timeout_s: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request object (one JSON line) to the instance at ``path`` and return its answer.

    Raises:
        OSError: nothing listens at ``path`` (ConnectionRefusedError / FileNotFoundError).
        TimeoutError: could not connect and send within ``connect_timeout_s`` seconds.
        NoAnswer: the request was sent but no answer came within ``timeout_s`` seconds (a hung or stopped
            instance; for ``flatten`` the account's state is then unknown).
        ValueError: the answer is not a JSON object.
    """
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path), limit=16 * MAX_LINE),
                                            connect_timeout_s)
    try:
        writer.write((json.dumps(obj) + "\n").encode())
        await asyncio.wait_for(writer.drain(), connect_timeout_s)
        try:
            line = await asyncio.wait_for(reader.readline(), timeout_s)
        except TimeoutError:
            raise NoAnswer(f"no answer to {obj.get('cmd')!r} within {timeout_s:g} s (the instance is stopped or "
                           "hung)") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    if not line:
        raise ValueError("the instance closed the connection without an answer")
    ans = json.loads(line)
    if not isinstance(ans, dict):
        raise ValueError("answer is not a JSON object")
    return ans


def pick_instance(socket: Path | None, err: Callable[[str], None], *, use: str = "--socket") -> Path | None:
    """The socket to talk to: ``socket`` when given, else the only running instance's. None (after ``err``)
    when none runs, or several run: the message names each (pid, console or headless, mode, journal) and how
    to choose (``use``)."""
    if socket is not None:
        return socket
    live = find_instances()
    if len(live) == 1:
        return live[0].socket
    try:
        where = str(runtime_dir())
    except OSError:
        where = "the runtime directory"
    if not live:
        err(f"no running kraken-tui instance (no live control socket in {where}); start one with "
            f"'kraken-tui' (the console) or 'kraken-tui --no-ui', or pass --socket PATH")
    else:
        kinds = ", ".join(sorted({i.kind for i in live}))
        err(f"several running instances ({len(live)}: {kinds}); choose one with {use}:\n"
            + "\n".join(f"  {i.describe()}" for i in live))
    return None


async def _row(inst: Instance) -> dict[str, Any]:
    row: dict[str, Any] = {"pid": inst.pid, "kind": inst.kind, "mode": inst.info.get("mode"), "state": None,
                           "state_reason": None, "journal": inst.info.get("journal"),
                           "started_ms": inst.info.get("started_ms"), "socket": str(inst.socket)}
    try:
        ans = await request(inst.socket, "status", timeout_s=3.0)
    except (OSError, TimeoutError, ValueError):
        return row
    st = ans.get("status") or {}
    row.update(state=st.get("state"), state_reason=st.get("state_reason"))
    row["mode"] = row["mode"] or st.get("mode")
    row["journal"] = row["journal"] or st.get("journal_path")
    return row


async def list_instances() -> list[dict[str, Any]]:
    """``ctl list`` rows (module docstring), one per running instance, each asked for its state."""
    return list(await asyncio.gather(*(_row(i) for i in find_instances())))
