"""Where the console logs while the UI runs (nothing may reach stderr under the UI).

Owns: the default log file path and routing the root logger to it for the console's lifetime.
Must not import: textual (the headless runner may use it too).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from kraken_tui.config import Config

__all__ = ["default_log_file", "setup_logging"]


def default_log_file(cfg: Config) -> Path:
    """``[general] log_file``, else ``<platform log dir>/kraken-tui.log``."""
    if cfg.general.log_file is not None:
        return cfg.general.log_file.expanduser()
    return Path(platformdirs.user_log_dir("kraken-tui")) / "kraken-tui.log"


def setup_logging(path: Path) -> Callable[[], None]:
    """Send all logging to ``path`` (nothing to stderr) and return a function that restores the old setup.
    The file is readable and writable by its owner only (0600, whatever the umask): it can name orders and
    account figures."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)

    def restore() -> None:
        logging.captureWarnings(False)
        root.handlers = saved[0]
        root.setLevel(saved[1])
        handler.close()

    return restore
