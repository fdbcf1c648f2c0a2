"""Opt-in Cython build of the backtest's hot modules (kraken_tui._accel.ACCELERATED); metadata is in
pyproject.toml.

Default (``pip install -e .``): pure Python, no Cython, no C compiler, no ``kraken_tui/_ext/``.
Opt-in: ``KRAKEN_TUI_BUILD_COMPILED=1 pip install -e .`` adds Cython to the build requirements (through
``setup_requires``, which setuptools' PEP 517 backend reports from ``get_requires_for_build_*``) and
compiles the modules below; ``kraken_tui._accel.install()`` (called by the command line) loads them.

Each module is compiled unchanged (Cython's pure-Python mode: no ``cython`` import, no type declarations)
into ``kraken_tui/_ext/<module><EXT_SUFFIX>`` with the sha256 of its ``.py`` in
``kraken_tui/_ext/manifest.json``; ``kraken_tui._accel`` loads a build only while that hash matches.
Failure-tolerant when asked for: a Cython error or no C compiler (``Extension(optional=True)``) -> a
pure-Python install that behaves the same, only slower.
C flags: ``-ffp-contract=off`` so typed double arithmetic is never fused into FMA (results must stay
bit-identical to Python floats; x86-64 without -march has no FMA, aarch64 would fuse by default).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_kt_accel", os.path.join(HERE, "kraken_tui", "_accel.py"))
accel = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(accel)

DIRECTIVES = {"language_level": 3, "binding": True, "annotation_typing": False}


COMPILED = os.environ.get(accel.BUILD_ENV, "") not in ("", "0")


def _extensions() -> list[Extension]:
    if not COMPILED:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("kraken-tui: Cython not available, pure-Python build", file=sys.stderr)
        return []
    args = [] if sys.platform == "win32" else ["-ffp-contract=off"]
    exts = []
    for name in accel.ACCELERATED:
        src = os.path.join(*name.split(".")) + ".py"
        ext = Extension(name, [src], optional=True, extra_compile_args=args)
        ext.kt_sha256 = accel.source_sha256(os.path.join(HERE, src))  # the source this build compiles
        exts.append(ext)
    try:
        out = cythonize(exts, compiler_directives=DIRECTIVES, quiet=True,
                        nthreads=0 if sys.platform == "win32" else (os.cpu_count() or 1))
    except Exception as exc:  # a Cython translation error must not fail the install
        print(f"kraken-tui: Cython failed ({exc}), pure-Python build", file=sys.stderr)
        return []
    for ext, src in zip(out, exts, strict=True):
        ext.kt_sha256 = src.kt_sha256
        ext.optional = True  # cythonize's Extension copies drop it
    return out


class build_ext(_build_ext):
    """build_ext that moves each built extension out of its package into ``kraken_tui/_ext/`` (where only
    ``kraken_tui._accel``'s finder loads it) and writes the manifest there."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1  # the C compiles dominate the build time

    def build_extension(self, ext: Extension) -> None:
        # any failure (no compiler, a C error) leaves that module pure Python, whatever setuptools' own
        # optional=True handling catches in this version and build mode
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"kraken-tui: {ext.name} not compiled ({exc}); it stays pure Python", file=sys.stderr)
        else:
            self._kt_ok.add(ext.name)  # built now, or skipped as up to date with its .c (so with its .py)

    def run(self) -> None:
        self._kt_ok: set[str] = set()
        super().run()
        if self.inplace:
            root = os.path.join(self.get_finalized_command("build_py").get_package_dir("kraken_tui"))
        else:
            root = os.path.join(self.build_lib, "kraken_tui")
        ext_dir = os.path.join(root, accel.EXT_DIR_NAME)
        os.makedirs(ext_dir, exist_ok=True)
        manifest: dict = {"format": 1, "modules": {}}
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            fname = ext.name + os.path.basename(built)[len(ext.name.rpartition(".")[2]):]
            target = os.path.join(ext_dir, fname)
            if ext.name not in self._kt_ok:  # failed: remove any leftover of an earlier build, record nothing
                for path in (built, target):
                    if os.path.exists(path):
                        os.remove(path)
                continue
            shutil.move(built, target)  # never leave a .so next to its .py
            manifest["modules"][ext.name] = {"file": fname, "sha256": ext.kt_sha256}
        with open(os.path.join(ext_dir, accel.MANIFEST_NAME), "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)

    def get_outputs(self) -> list[str]:
        return []  # moved by run(); the wheel takes them from build_lib/kraken_tui/_ext


if COMPILED:
    setup(ext_modules=_extensions(), cmdclass={"build_ext": build_ext}, setup_requires=["Cython>=3.0,<4"])
else:
    setup()
