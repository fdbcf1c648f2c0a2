"""Channel URLs for notifications: where they come from and how they are kept out of every text.

Owns: ``load_urls`` (apprise URLs from ``[notify] urls_env`` and ``urls_file``; the file must be mode 0600,
like the API key file of ``kraken_tui.config.load_credentials``), ``describe`` (a URL shown as
``scheme://***``) and ``Masker`` (replaces every URL and every piece of one that could be a token, in any
text: log lines, status, exceptions). Apprise URL syntax: https://github.com/caronc/apprise/wiki.
Must not import: textual, the paper exchange, the UI.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from kraken_tui.config import NotifyConfig
from kraken_tui.errors import SecretsError

__all__ = ["MASK", "Masker", "describe", "load_urls"]

MASK = "***"
_SPLIT = re.compile(r"[\s,]+")
_MIN_TOKEN = 3


def load_urls(cfg: NotifyConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """The configured apprise URLs: those in the environment variable ``cfg.urls_env`` (whitespace or comma
    separated), then those in ``cfg.urls_file`` (one per line; blank lines and ``#`` comments skipped).

    Raises:
        SecretsError: the file is missing, unreadable, or readable by group/others (not 0600). The message
            names the file, never a URL.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    urls: list[str] = []
    if cfg.urls_env:
        urls += [u for u in _SPLIT.split(environ.get(cfg.urls_env, "")) if u]
    if cfg.urls_file is not None:
        path = cfg.urls_file.expanduser()
        try:
            st = path.stat()
        except OSError as exc:
            raise SecretsError(str(path), f"cannot read the notification URL file ({exc.strerror})") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(str(path), f"mode is {stat.S_IMODE(st.st_mode):04o}; refusing a notification URL "
                                          "file others can read (chmod 600)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise SecretsError(str(path), "not a readable text file of apprise URLs") from None
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                urls += [u for u in _SPLIT.split(line) if u]
    return urls


def describe(url: str) -> str:
    """How a channel is named in any output: its scheme only, e.g. ``tgram://***``."""
    scheme = url.split("://", 1)[0] if "://" in url else "channel"
    return f"{scheme}://{MASK}"


def _pieces(url: str) -> Iterable[str]:
    yield url
    if "://" not in url:
        return
    rest = url.split("://", 1)[1]
    yield rest
    parts = urlsplit(url)
    for piece in (parts.netloc, parts.username, parts.password, parts.hostname, parts.path, parts.query):
        if piece:
            yield piece
            yield unquote(piece)
    for seg in re.split(r"[/@:?&=#]+", rest):
        if seg:
            yield seg
            yield unquote(seg)
    for _, value in parse_qsl(parts.query, keep_blank_values=False):
        yield value


class Masker:
    """Replaces every configured URL and each piece of it (user, password, host, path segments, query values;
    pieces shorter than 3 characters are left, they cannot hold a token) with ``***`` in a text."""

    def __init__(self, urls: Iterable[str]) -> None:
        tokens = {p for u in urls for p in _pieces(u) if len(p) >= _MIN_TOKEN}
        self._tokens = sorted(tokens, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret piece replaced by ``***``."""
        for t in self._tokens:
            if t in text:
                text = text.replace(t, MASK)
        return text
