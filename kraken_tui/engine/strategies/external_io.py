"""Readers that feed ``ExternalSignals``: tail a JSON-lines file, read a named pipe, listen on a local socket,
or accept TradingView-style alerts on a loopback HTTP webhook.

Owns: ``tail_file`` (follows a growing file, survives truncation and rotation), ``read_pipe`` (a FIFO,
reopened when its writer closes it), ``serve_socket`` (a UNIX socket or a TCP listener restricted to
loopback), ``serve_webhook`` (HTTP/1.1 POST on loopback with a shared secret; plain asyncio streams, no
HTTP library), ``alert_to_line`` (TradingView alert JSON -> the line format), ``ReaderSpec`` and
``run_external_reader`` (starts the readers a spec names). Every line goes to ``sink(line, source=...,
line_no=...)``, normally ``ExternalSignals.feed_line``, which logs, counts and reports bad lines and never
raises; a webhook request refused before it becomes a line goes to ``ExternalSignals.reject``.
Must not import: textual, numpy, aiohttp, httpx, risk or execution modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_tui.errors import ConfigError

from .external import MAX_LINE_CHARS, ExternalSignals

__all__ = [
    "LineSink", "ReaderSpec", "alert_to_line", "load_webhook_secret", "parse_socket_address", "read_pipe",
    "run_external_reader", "serve_socket", "serve_webhook", "tail_file",
]

log = logging.getLogger(__name__)

LineSink = Callable[..., object]
"""Called as ``sink(line: str, *, source: str, line_no: int)``."""


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _read_new(path: Path, pos: int, inode: int | None) -> tuple[bytes, int, int | None]:
    """Blocking read: bytes appended since ``pos``; restarts at 0 after truncation or rotation."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return b"", pos, inode
    if (inode is not None and st.st_ino != inode) or st.st_size < pos:
        pos = 0  # rotated or truncated: read the new file from its start
    if st.st_size == pos:
        return b"", pos, st.st_ino
    with path.open("rb") as fh:
        fh.seek(pos)
        data = fh.read(1 << 20)
    return data, pos + len(data), st.st_ino


async def tail_file(
    path: str | os.PathLike[str],
    sink: LineSink,
    *,
    poll_s: float = 0.5,
    from_start: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """Follow ``path`` and pass each complete new line to ``sink`` until ``stop`` is set (or cancelled).

    Starts at the end of the file unless ``from_start`` (old signals are not replayed by default). A
    missing file is waited for. Line numbers count lines read by this tail (1-based). A line longer
    than ``MAX_LINE_CHARS`` is passed on truncated, so the parser reports it.
    """
    p = Path(path)
    pos, inode = 0, None
    if not from_start:
        st = await asyncio.to_thread(_stat_or_none, p)
        if st is not None:
            pos, inode = st.st_size, st.st_ino
    buf = b""
    line_no = 0
    while stop is None or not stop.is_set():
        data, new_pos, new_inode = await asyncio.to_thread(_read_new, p, pos, inode)
        if new_pos < pos or (inode is not None and new_inode != inode):
            buf = b""
        pos, inode = new_pos, new_inode
        if data:
            buf += data
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line_no += 1
                sink(raw[: MAX_LINE_CHARS + 1].decode("utf-8", "replace"), source=str(p), line_no=line_no)
            if len(buf) > MAX_LINE_CHARS:
                line_no += 1
                sink(buf[: MAX_LINE_CHARS + 1].decode("utf-8", "replace"), source=str(p), line_no=line_no)
                buf = b""
            continue
        await asyncio.sleep(poll_s)


def parse_socket_address(address: str, key: str = "strategy.params.socket") -> tuple[str, str, int]:
    """``unix:/path`` -> ("unix", "/path", 0); ``tcp:127.0.0.1:9000`` -> ("tcp", "127.0.0.1", 9000).

    Raises:
        ConfigError: any other form, or a TCP host that is not a loopback address (signals must not be
            accepted from the network).
    """
    if address.startswith("unix:") and len(address) > 5:
        return "unix", address[5:], 0
    if address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        host = host.strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
            port_no = int(port)
        except ValueError:
            loopback, port_no = False, -1
        if loopback and 0 <= port_no <= 65535:
            return "tcp", host, port_no
    raise ConfigError(key, address, "unix:/path or tcp:127.0.0.1:PORT (loopback only)")


async def serve_socket(address: str, sink: LineSink) -> asyncio.AbstractServer:
    """Listen on ``address`` (see ``parse_socket_address``); each received line goes to ``sink``.

    Returns the started server (close it with ``server.close(); await server.wait_closed()``). A
    client sending a line over ``MAX_LINE_CHARS`` gets that line reported as bad and is disconnected.

    Raises:
        ConfigError: bad address. OSError: the address cannot be bound.
    """
    kind, host, port = parse_socket_address(address)
    counter = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal counter
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    raw = exc.partial
                    if not raw:
                        break
                except asyncio.LimitOverrunError:
                    counter += 1
                    sink("x" * (MAX_LINE_CHARS + 1), source=address, line_no=counter)
                    break
                counter += 1
                sink(raw.decode("utf-8", "replace"), source=address, line_no=counter)
        except ConnectionError as exc:
            log.info("external signal connection on %s ended: %s", address, exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    if kind == "unix":
        return await asyncio.start_unix_server(handle, path=host, limit=MAX_LINE_CHARS + 2)
    return await asyncio.start_server(handle, host=host, port=port, limit=MAX_LINE_CHARS + 2)


async def read_pipe(path: str | os.PathLike[str], sink: LineSink, *, stop: asyncio.Event | None = None,
                    poll_s: float = 0.2) -> None:
    """Read lines from the named pipe (FIFO) ``path`` until ``stop`` is set (or cancelled); when a writer
    closes its end, the next writer's lines are read the same way. Opened non-blocking, so waiting for a
    writer never holds a thread.

    Raises:
        OSError: ``path`` cannot be opened (e.g. missing).
    """
    line_no = 0
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK)
    buf = b""
    try:
        while stop is None or not stop.is_set():
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:  # a writer is connected but has nothing new
                await asyncio.sleep(poll_s)
                continue
            if not data:  # no writer (yet, or any more): the same descriptor serves the next one
                if buf:
                    line_no += 1
                    sink(buf.decode("utf-8", "replace"), source=str(path), line_no=line_no)
                    buf = b""
                await asyncio.sleep(poll_s)
                continue
            buf += data
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line_no += 1
                sink(raw[: MAX_LINE_CHARS + 1].decode("utf-8", "replace"), source=str(path), line_no=line_no)
            if len(buf) > MAX_LINE_CHARS:
                line_no += 1
                sink(buf[: MAX_LINE_CHARS + 1].decode("utf-8", "replace"), source=str(path), line_no=line_no)
                buf = b""
    finally:
        os.close(fd)


_SIDES = {"buy": "long", "long": "long", "sell": "short", "short": "short", "close": "flat", "flat": "flat",
          "exit": "flat"}


def alert_to_line(alert: Mapping[str, Any]) -> str:
    """A TradingView-style alert (``{"ticker": "ETHUSD", "action": "buy", "confidence"?: 0.8, "time"?: ms,
    "reason"?: "..."}``; also ``symbol``/``side``/``ts_ms`` as in the line format) -> one line of the external
    line format. ``action``/``side``: buy|long -> long, sell|short -> short, close|exit|flat -> flat. A bare
    ticker ("ETHUSD") becomes the linear perpetual "PF_ETHUSD". ``confidence`` defaults to 1 (an alert is a
    firm call). Secret fields are never copied. Invalid values are passed on for ``parse_signal_line`` to
    refuse with its reason."""
    symbol = alert.get("symbol", alert.get("ticker"))
    if isinstance(symbol, str):
        symbol = symbol.strip().upper().replace("/", "")
        if symbol and not symbol.startswith(("PF_", "PI_", "FI_")):
            symbol = "PF_" + symbol
    raw_side = alert.get("side", alert.get("action"))
    side = _SIDES.get(raw_side.strip().lower(), raw_side) if isinstance(raw_side, str) else raw_side
    ts = alert.get("ts_ms", alert.get("time"))
    out: dict[str, Any] = {"symbol": symbol, "side": side, "confidence": alert.get("confidence", 1.0)}
    if ts is not None:
        out["ts_ms"] = ts
    reason = alert.get("reason", alert.get("comment"))
    out["reason"] = reason if isinstance(reason, str) else "webhook alert"
    if isinstance(alert.get("features"), dict):
        out["features"] = alert["features"]
    return json.dumps(out)


def load_webhook_secret(env_var: str, path: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """The webhook's shared secret: the environment variable ``env_var`` when set, else the file ``path``
    (stripped; must not be readable by group or others).

    Raises:
        ConfigError: no secret configured, the file is unreadable, empty, or its mode lets others read it.
            The message never contains the secret.
    """
    env = os.environ if environ is None else environ
    value = env.get(env_var, "") if env_var else ""
    if value:
        return value
    if path is None:
        raise ConfigError("external.webhook_secret_env", env_var,
                          "a set environment variable, or external.webhook_secret_file (mode 0600)")
    p = path.expanduser()
    try:
        st = p.stat()
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError("external.webhook_secret_file", str(p), f"a readable file ({exc.strerror})") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError("external.webhook_secret_file", str(p),
                          f"a file only its owner can read (mode is {stat.S_IMODE(st.st_mode):04o}; chmod 600)")
    if not text:
        raise ConfigError("external.webhook_secret_file", str(p), "a non-empty secret")
    return text


def _parse_webhook_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        ok = ipaddress.ip_address(host).is_loopback and 0 <= int(port) <= 65535
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError("external.webhook", address, "127.0.0.1:PORT (loopback only)")
    return host, int(port)


async def serve_webhook(address: str, secret: str, sink: LineSink,
                        reject: Callable[..., object]) -> asyncio.Server:
    """Accept TradingView-style alerts by HTTP POST on ``address`` (``127.0.0.1:PORT``; port 0 = any).

    The shared secret is taken from the JSON field ``secret`` (or ``passphrase``), or the header
    ``X-Webhook-Secret``; compared in constant time; never logged or passed on. Answers: 200 accepted for
    checking (the signal itself may still be refused by ``feed_line``), 401 bad or missing secret, 400 not a
    JSON object, 405 not POST, 413 body over ``MAX_LINE_CHARS``. A refused request goes to
    ``reject(reason, source=..., line_no=...)``; an accepted one to ``sink`` as one line (``alert_to_line``).

    Raises:
        ConfigError: not a loopback address. OSError: it cannot be bound.
    """
    host, port = _parse_webhook_address(address)
    counter = 0
    want = secret.encode()

    async def answer(writer: asyncio.StreamWriter, code: int, text: str) -> None:
        body = json.dumps({"status": text}).encode()
        writer.write(f"HTTP/1.1 {code} {text}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal counter
        source = f"webhook {address}"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            counter += 1
            n = counter
            if method != "POST":
                await answer(writer, 405, "Method Not Allowed")
                return
            length = int(headers.get("content-length", "0") or 0)
            if length > MAX_LINE_CHARS:
                reject(f"request body of {length} bytes over {MAX_LINE_CHARS}", source=source, line_no=n)
                await answer(writer, 413, "Payload Too Large")
                return
            body = await asyncio.wait_for(reader.readexactly(length), timeout=10) if length else b""
            try:
                alert = json.loads(body.decode("utf-8", "replace"))
            except json.JSONDecodeError:
                alert = None
            given = headers.get("x-webhook-secret", "")
            if isinstance(alert, dict):
                given = str(alert.pop("secret", alert.pop("passphrase", given)) or given)
            if not hmac.compare_digest(given.encode(), want):
                reject("bad or missing webhook secret", source=source, line_no=n)
                await answer(writer, 401, "Unauthorized")
                return
            if not isinstance(alert, dict):
                reject("request body is not a JSON object", source=source, line_no=n)
                await answer(writer, 400, "Bad Request")
                return
            sink(alert_to_line(alert), source=source, line_no=n)
            await answer(writer, 200, "OK")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError,
                ConnectionError) as exc:
            log.info("webhook request on %s dropped: %s", address, type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host=host, port=port, limit=MAX_LINE_CHARS + 8192)


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    """Which readers feed one ``ExternalSignals``: ``path`` (file to tail), ``pipe`` (FIFO), ``socket``
    (``parse_socket_address``), ``webhook`` (``127.0.0.1:PORT``) with its ``webhook_secret``; empty = off."""

    path: str = ""
    pipe: str = ""
    socket: str = ""
    webhook: str = ""
    webhook_secret: str = ""

    @property
    def any(self) -> bool:
        """At least one reader is named."""
        return bool(self.path or self.pipe or self.socket or self.webhook)


async def run_external_reader(strategy: ExternalSignals, *, stop: asyncio.Event, poll_s: float = 0.5,
                              spec: ReaderSpec | None = None, sink: LineSink | None = None,
                              started: Callable[[list[str]], None] | None = None) -> None:
    """Run the readers named by ``spec`` (default: the strategy's ``path`` and ``socket`` params) until
    ``stop`` is set or the task is cancelled; marks the strategy ``live`` while they run. Lines go to
    ``sink`` (default ``strategy.feed_line``). ``started`` hears the readers' descriptions once listening
    (e.g. "webhook 127.0.0.1:8080"; a port 0 is shown as bound).

    Raises:
        ConfigError: no reader named, a bad address, or a webhook without a secret.
        OSError: an address cannot be bound or a pipe opened.
    """
    spec = spec or ReaderSpec(path=strategy.p["path"], socket=strategy.p["socket"])
    if not spec.any:
        raise ConfigError(
            f"{strategy.prefix}.path", "", "a file path or a socket address for the external strategy"
        )
    if spec.webhook and not spec.webhook_secret:
        raise ConfigError("external.webhook_secret_env", "", "a shared secret for the webhook")
    feed = sink or strategy.feed_line
    servers: list[asyncio.AbstractServer] = []
    tasks: list[asyncio.Task[None]] = []
    names: list[str] = []
    try:
        if spec.socket:
            servers.append(await serve_socket(spec.socket, feed))
            names.append(f"socket {spec.socket}")
        if spec.webhook:
            hook = await serve_webhook(spec.webhook, spec.webhook_secret, feed, strategy.reject)
            servers.append(hook)
            bound = hook.sockets[0].getsockname() if hook.sockets else ("?", "?")
            names.append(f"webhook http://{bound[0]}:{bound[1]}/")
        if spec.path:
            tasks.append(asyncio.create_task(tail_file(spec.path, feed, poll_s=poll_s, stop=stop)))
            names.append(f"file {spec.path}")
        if spec.pipe:
            tasks.append(asyncio.create_task(read_pipe(spec.pipe, feed, stop=stop)))
            names.append(f"pipe {spec.pipe}")
        strategy.live = True
        if started is not None:
            started(names)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for t in tasks:
            if t.done() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]  # a reader failed (e.g. the pipe vanished)
    finally:
        strategy.live = False
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for srv in servers:
            srv.close()
            with contextlib.suppress(Exception):
                await srv.wait_closed()
