"""Where control sockets live, and which of them a running instance listens on.

Owns: ``runtime_dir`` (platformdirs' ``user_runtime_dir("kraken-tui")``, i.e. ``$XDG_RUNTIME_DIR/kraken-tui``
on Linux, falling back to ``<tempdir>/kraken-tui-<uid>``, mode 0700), ``default_socket_path``
(``<runtime dir>/ctl-<pid>.sock``), ``is_live`` and ``find_sockets`` (live sockets only; a socket file nobody
listens on, left by a killed instance, is stale and skipped).
Must not import: textual, the engine.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import warnings
from pathlib import Path

import platformdirs

__all__ = ["APP_NAME", "default_socket_path", "find_sockets", "is_live", "runtime_dir"]

APP_NAME = "kraken-tui"


def runtime_dir() -> Path:
    """The directory holding control sockets (created 0700): platformdirs' user runtime dir, else
    ``<tempdir>/kraken-tui-<uid>``."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset or not 0700
        warnings.simplefilter("ignore")
        first = Path(platformdirs.user_runtime_dir(APP_NAME))
    candidates = [first, Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"]
    for d in candidates:
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
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
