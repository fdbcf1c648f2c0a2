"""Readers that feed ``ExternalSignals``: tail a JSON-lines file, or listen on a local socket.

Owns: ``tail_file`` (follows a growing file, survives truncation and rotation), ``serve_socket`` (a UNIX
socket or a TCP listener restricted to loopback) and ``run_external_reader`` (starts what the
``external`` strategy's params name). Every line goes to ``sink(line, source=..., line_no=...)``,
normally ``ExternalSignals.feed_line``, which logs and counts bad lines and never raises.
Must not import: textual, numpy, aiohttp, risk or execution modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable
from pathlib import Path

from kraken_tui.errors import ConfigError

from .external import MAX_LINE_CHARS, ExternalSignals

__all__ = ["LineSink", "parse_socket_address", "run_external_reader", "serve_socket", "tail_file"]

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


async def run_external_reader(strategy: ExternalSignals, *, stop: asyncio.Event, poll_s: float = 0.5) -> None:
    """Run the readers named by the strategy's ``path`` and ``socket`` params until ``stop`` is set.

    Raises:
        ConfigError: neither ``path`` nor ``socket`` is set, or the socket address is bad.
    """
    path, address = strategy.p["path"], strategy.p["socket"]
    if not path and not address:
        raise ConfigError(
            f"{strategy.prefix}.path", "", "a file path or a socket address for the external strategy"
        )
    server = await serve_socket(address, strategy.feed_line) if address else None
    try:
        if path:
            await tail_file(path, strategy.feed_line, poll_s=poll_s, stop=stop)
        else:
            await stop.wait()
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
