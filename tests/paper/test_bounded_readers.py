"""Every file reader is bounded: non-UTF-8 bytes, JSON nested 10,000 deep and a 64 MB line are refused
with a ``DataFileError`` / ``ConfigError`` naming ``file:line`` (exit code 2), in bounded memory."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from kraken_tui.config import load_config
from kraken_tui.errors import ConfigError, DataFileError
from kraken_tui.paper.sources.replay_files import (
    detect_format,
    iter_ws_recording,
    read_candles,
    read_funding_csv,
)

WS_LINE = '{"ts": 1700000000.0, "dir": "in", "msg": {"feed": "ticker", "product_id": "PF_XBTUSD"}}\n'
CSV_ROW = "1700000000,100,101,99,100.5,3,7\n"
BIG = 64 << 20


def _ws(path: Path, bad: bytes) -> Path:
    path.write_bytes(WS_LINE.encode() * 2 + bad + b"\n" + WS_LINE.encode())
    return path


def _peak_mb(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 1e6


def test_non_utf8_ws_recording_names_the_line(tmp_path):
    p = _ws(tmp_path / "rec.jsonl", b'{"ts": 1700000001.0, "dir": "in", "msg": {"x": "\xff\xfe"}}')
    with pytest.raises(DataFileError) as e:
        list(iter_ws_recording(p))
    assert e.value.line == 3 and "UTF-8" in str(e.value) and str(e.value).startswith(f"{p}:3:")


def test_non_utf8_candle_and_funding_csv_name_the_line(tmp_path):
    c = tmp_path / "c.csv"
    c.write_bytes(CSV_ROW.encode() + b"1700000060,100,101,99,100\xff,3,7\n")
    with pytest.raises(DataFileError) as e:
        read_candles(c)
    assert e.value.line == 2 and "UTF-8" in e.value.reason
    f = tmp_path / "f.csv"
    f.write_bytes(b"ts,symbol,funding_rate\n1700002800000,PF_XBTUSD,0.0001\n1700006400000,PF_\xc3XBTUSD,0.0001\n")
    with pytest.raises(DataFileError) as e:
        read_funding_csv(f)
    assert e.value.line == 3 and "UTF-8" in e.value.reason
    first = tmp_path / "first.jsonl"
    first.write_bytes(b'\xff{"ts": 1}\n')
    with pytest.raises(DataFileError) as e:
        detect_format(first)
    assert e.value.line == 1


def test_10000_deep_json_is_refused_not_a_recursion_error(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    p = _ws(tmp_path / "rec.jsonl", ('{"ts": 1700000001.0, "dir": "in", "msg": {"x": ' + deep + "}}").encode())
    with pytest.raises(DataFileError, match="nested too deeply") as e:
        list(iter_ws_recording(p))
    assert e.value.line == 3
    first = tmp_path / "first.jsonl"
    first.write_text('{"ts": 1, "dir": "in", "msg": ' + deep + "}\n")
    with pytest.raises(DataFileError, match="nested too deeply"):
        detect_format(first)
    charts = tmp_path / "charts.json"
    charts.write_text('{"candles": \n' + deep + "}")
    with pytest.raises(DataFileError, match="nested too deeply"):
        read_candles(charts, "charts_json")


def test_config_non_utf8_deep_and_huge_are_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[general]\nmode = "paper"\n# caf\xe9\n')
    with pytest.raises(ConfigError, match="UTF-8") as e:
        load_config(bad)
    assert f"{bad}:3" in str(e.value)
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(ConfigError, match="nested"):
        load_config(deep)
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * (BIG // 16) + b"\n")
    with pytest.raises(ConfigError, match="under"):
        load_config(huge)


@pytest.mark.parametrize("kind", ["ws", "ohlcvt", "funding", "first_line"])
def test_a_64mb_line_is_refused_in_bounded_memory(tmp_path, kind):
    p = tmp_path / f"{kind}.txt"
    with p.open("wb") as fh:
        if kind == "ws":
            fh.write(WS_LINE.encode())
            fh.write(b'{"ts": 1700000001.0, "dir": "in", "msg": {"x": "' + b"y" * BIG + b'"}}\n')
        elif kind == "ohlcvt":
            fh.write(CSV_ROW.encode())
            fh.write(b"1" * BIG + b"\n")
        elif kind == "funding":
            fh.write(b"ts,symbol,funding_rate\n" + b"9" * BIG + b"\n")
        else:
            fh.write(b"{" + b" " * BIG + b"}\n")
    read = {"ws": lambda: list(iter_ws_recording(p)), "ohlcvt": lambda: read_candles(p),
            "funding": lambda: read_funding_csv(p), "first_line": lambda: detect_format(p)}[kind]
    caught: list[DataFileError] = []

    def run() -> None:
        try:
            read()
        except DataFileError as exc:
            caught.append(exc)

    peak = _peak_mb(run)
    assert caught and "longer than" in caught[0].reason, caught
    assert caught[0].line == (1 if kind == "first_line" else 2)
    assert peak < 32, f"{peak:.0f} MB peak for a {BIG >> 20} MB line"


def test_cli_replay_of_a_non_utf8_file_exits_2_naming_file_and_line(tmp_path):
    p = _ws(tmp_path / "rec.jsonl", b'{"ts": 1700000001.0, "dir": "in", "msg": {"x": "\xff"}}')
    cfg = tmp_path / "c.toml"
    cfg.write_text('[strategy]\nsymbols = ["PF_XBTUSD"]\n')
    r = subprocess.run([sys.executable, "-m", "kraken_tui", "--no-ui", "--config", str(cfg), "--replay", str(p),
                        "--exit-at-end", "--journal", str(tmp_path / "j.sqlite")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.stdout[-2000:], r.stderr[-2000:])
    assert f"{p}:3" in r.stderr and "Traceback" not in r.stderr
