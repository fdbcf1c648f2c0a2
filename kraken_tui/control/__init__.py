"""The local control channel of a running instance (UNIX socket), and the ``ctl`` / ``flatten`` commands.

Owns nothing itself: it re-exports the public names of its modules, one owner each:
``paths`` (runtime dir, socket paths, live sockets), ``views`` (status/report JSON and text),
``protocol`` (the request vocabulary), ``server`` (``ControlServer``), ``client`` (``request``, the ``ctl``
handler ``run``), ``flatten_cmd`` (``run_flatten``, the ``kraken-tui flatten`` handler), ``order_grammar`` (the
words of a manual action, shared with the console's ``:`` line), ``manual_wire`` (a manual action as JSON) and
``manual_cmd`` (the ``ctl order|close|cancel|stop|edit|tpcancel|reprotect`` handler).
The server's and the flatten command's names are loaded on first use (``_LAZY``), so ``ctl status`` starts
without the engine. Must not import: textual.

Every instance serves it, the console and the headless runner alike (``ctl list`` shows them: a metadata
file ``ctl-<pid>.json`` next to each socket, ``control.paths``).

Protocol: one JSON object per line each way. Request ``{"cmd": "status|pause|resume|flatten|reset|health",
"reason": str}``; answer ``{"ok": true, "cmd": ..., "status": {...}}`` (flatten adds ``"report"``, health
``"health"``); a manual action is ``{"cmd": "manual", "action": {...}, "preview": bool, "override": bool,
"confirm": str|null}`` (``manual_wire``; answered by ``views.manual_dict``, ``code`` 3 when the exchange did not
accept it; ``manual_cmd`` is the ``ctl order|close|...`` handler, ``order_grammar`` its words); or
``{"ok": false, "error": str, "code": int}`` where ``code`` is the exit code ``ctl`` should use
(2 refused / bad request, 1 internal error). A connection may carry several requests.

Socket path: ``<runtime dir>/ctl-<pid>.sock`` where the runtime dir is platformdirs'
``user_runtime_dir("kraken-tui")`` (``$XDG_RUNTIME_DIR/kraken-tui`` on Linux), falling back to
``<tempdir>/kraken-tui-<uid>`` (mode 0700) when that cannot be created. A socket file nobody listens on
(an instance that was killed) is stale: the server replaces one at its own path, clients skip them.

``ctl`` exit codes (``ctl health`` has its own: 0 healthy, 1 degraded, 2 HALTED or unreachable): 0 done;
2 no running instance found, several found without ``--socket``, or the
engine refused the transition (the message says why, e.g. "resume works from PAUSED only"), or the instance did
not answer within ``--timeout``; 3 a flatten that did not end verified flat (a flatten request that got no
answer included); 1 an internal error in the instance. The server's limits (connection cap, idle timeout,
request size, rate, status cache age) are ``server.ControlLimits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kraken_tui.control.client import list_instances, pick_instance, request
from kraken_tui.control.ctl_cmd import run
from kraken_tui.control.paths import (
    APP_NAME,
    Instance,
    default_socket_path,
    find_instances,
    find_sockets,
    is_live,
    runtime_dir,
)
from kraken_tui.control.protocol import COMMANDS, DEFAULT_REASONS, MAX_LINE
from kraken_tui.control.views import format_report, format_status, health_dict, report_dict, status_dict

if TYPE_CHECKING:
    from kraken_tui.control.flatten_cmd import CONFIRM_WORD, run_flatten
    from kraken_tui.control.server import ControlLimits, ControlServer

#: Names loaded on first use (PEP 562): the server and the flatten command import the engine (config,
#: pydantic), which ``ctl status`` does not need.
_LAZY = {
    "ControlLimits": "kraken_tui.control.server",
    "ControlServer": "kraken_tui.control.server",
    "CONFIRM_WORD": "kraken_tui.control.flatten_cmd",
    "run_flatten": "kraken_tui.control.flatten_cmd",
}


def __getattr__(name: str) -> Any:
    """The lazily loaded names of ``_LAZY``; AttributeError for any other name."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "APP_NAME",
    "COMMANDS",
    "CONFIRM_WORD",
    "DEFAULT_REASONS",
    "MAX_LINE",
    "ControlLimits",
    "ControlServer",
    "Instance",
    "default_socket_path",
    "find_instances",
    "find_sockets",
    "format_report",
    "format_status",
    "health_dict",
    "list_instances",
    "pick_instance",
    "is_live",
    "report_dict",
    "request",
    "run",
    "run_flatten",
    "runtime_dir",
    "status_dict",
]
