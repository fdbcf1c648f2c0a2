"""Where control sockets live, and which of them a running instance listens on.

Owns: ``runtime_dir`` (platformdirs' ``user_runtime_dir("kraken-tui")``, i.e. ``$XDG_RUNTIME_DIR/kraken-tui``
on Linux (that directory created 0700 when missing, so every process picks the same one), falling back to ``<tempdir>/kraken-tui-<uid>``, mode 0700), ``default_socket_path``
(``<runtime dir>/ctl-<pid>.sock``), ``is_live`` and ``find_sockets`` (live sockets only; a socket file nobody
listens on, left by a killed instance, is stale and skipped), and the registry of running instances:
``info_path`` (``<runtime dir>/ctl-<pid>.json`` next to the socket), ``write_info`` / ``remove_info`` and
``find_instances`` (one ``Instance`` per live socket with what its metadata file says; files of dead pids are
removed).
Metadata file keys: ``pid`` (int), ``kind`` (``console`` or ``headless``), ``mode`` (paper, live, replay),
``journal`` (path or null), ``started_ms`` (UTC epoch ms), ``socket`` (path).
Must not import: textual, the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["APP_NAME", "Instance", "default_socket_path", "find_instances", "find_sockets", "info_path", "is_live",
           "remove_info", "runtime_dir", "write_info"]

APP_NAME = "kraken-tui"


def runtime_dir() -> Path:
    """The directory holding control sockets (created 0700): platformdirs' user runtime dir, else
    ``<tempdir>/kraken-tui-<uid>``."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:  # platformdirs answers differently once it exists: create it first, so every process agrees
        with contextlib.suppress(OSError):
            Path(xdg).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset or not 0700
        warnings.simplefilter("ignore")
        first = Path(platformdirs.user_runtime_dir(APP_NAME))
    candidates = [first, Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"]
    for d in candidates:
        try:
            d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # every process picks the same directory
            d.mkdir(mode=0o700, exist_ok=True)
            st = d.stat()
            if st.st_uid != os.getuid() or not os.access(d, os.W_OK):
                continue
            if stat.S_IMODE(st.st_mode) & 0o077:
                d.chmod(0o700)
            return d
        except OSError:
            continue
    raise OSError(f"no usable runtime directory among {', '.join(map(str, candidates))}")


def default_socket_path(pid: int | None = None) -> Path:
    """``<runtime dir>/ctl-<pid>.sock`` for this process (or ``pid``)."""
    return runtime_dir() / f"ctl-{os.getpid() if pid is None else pid}.sock"


def is_live(path: Path) -> bool:
    """True when something accepts connections on the UNIX socket ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def find_sockets(directory: Path | None = None) -> list[Path]:
    """Live control sockets in ``directory`` (default: the runtime dir), stale ones skipped."""
    try:
        d = directory or runtime_dir()
    except OSError:
        return []
    return [p for p in sorted(d.glob("ctl-*.sock")) if p.is_socket() and is_live(p)]


@dataclass(frozen=True)
class Instance:
    """One running instance: its live control socket and what its metadata file says (``info``: the keys of
    the module docstring; empty for an instance that wrote none)."""

    socket: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        """The process id (from the metadata, else from the socket's name ``ctl-<pid>.sock``)."""
        pid = self.info.get("pid")
        if isinstance(pid, int):
            return pid
        stem = self.socket.stem.removeprefix("ctl-")
        return int(stem) if stem.isdigit() else None

    @property
    def kind(self) -> str:
        """``console`` (the UI) or ``headless`` (``--no-ui``); ``unknown`` without metadata."""
        return str(self.info.get("kind") or "unknown")

    def describe(self) -> str:
        """One line: pid, kind, mode, journal and socket, e.g. ``pid 4242 console (paper, journal
        /data/journal.sqlite) at /run/user/1000/kraken-tui/ctl-4242.sock``."""
        mode = self.info.get("mode") or "?"
        journal = self.info.get("journal") or "-"
        return f"pid {self.pid} {self.kind} ({mode}, journal {journal}) at {self.socket}"


def info_path(sock: Path) -> Path:
    """The metadata file next to the socket ``sock`` (``ctl-<pid>.json``)."""
    return sock.with_suffix(".json")


def write_info(sock: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` (module docstring keys) next to ``sock``, mode 0600, atomically. Returns its path.

    Raises:
        OSError: the runtime directory is not writable.
    """
    path = info_path(sock)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return path


def remove_info(sock: Path) -> None:
    """Remove the metadata file of ``sock`` (missing is fine)."""
    with contextlib.suppress(FileNotFoundError):
        info_path(sock).unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_info(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_instances(directory: Path | None = None) -> list[Instance]:
    """Running instances in ``directory`` (default: the runtime dir), ordered by socket path: every live
    socket with its metadata. Files left by a dead process (socket nobody listens on, metadata of a pid that
    no longer exists) are removed."""
    try:
        d = directory or runtime_dir()
    except OSError:
        return []
    out: list[Instance] = []
    for sock in sorted(d.glob("ctl-*.sock")):
        info = _read_info(info_path(sock))
        if sock.is_socket() and is_live(sock):
            out.append(Instance(sock, info))
            continue
        inst = Instance(sock, info)
        if inst.pid is not None and not _pid_alive(inst.pid):  # stale: clean it
            with contextlib.suppress(OSError):
                sock.unlink()
            remove_info(sock)
    for meta in d.glob("ctl-*.json"):  # metadata whose socket is gone
        if not meta.with_suffix(".sock").exists():
            pid = _read_info(meta).get("pid")
            if not isinstance(pid, int) or not _pid_alive(pid):
                with contextlib.suppress(OSError):
                    meta.unlink()
    return out
