"""The request vocabulary of the control socket, shared by the server and the ``ctl`` client.

Owns: ``COMMANDS`` (the request names), ``DEFAULT_REASONS`` (the reason journaled when a state-changing request
names none) and ``MAX_LINE`` (the longest request line). The protocol itself is described in the
``kraken_tui.control`` package docstring. Imports nothing, so the client (``ctl status``) starts without the
server's engine imports; ``control.server`` re-exports all three.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "DEFAULT_REASONS", "MAX_LINE"]

COMMANDS = ("status", "pause", "resume", "flatten", "reset", "health", "manual")
"""Request names (``{"cmd": ...}``) the server answers."""
DEFAULT_REASONS = {
    "pause": "operator pause via ctl",
    "resume": "operator resume via ctl",
    "flatten": "operator flatten via ctl",
    "reset": "operator reset via ctl",
}
"""Request name -> the reason recorded when a state-changing request gives none."""
MAX_LINE = 64 * 1024
"""Longest request line the server reads, bytes."""
