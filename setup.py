"""Builds the cffi extension pocketnn._native (see build_native.py)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext


class ParallelBuildExt(build_ext):
    """Compiles the extension's ~100 C files on every core instead of one after another
    (a Unix compiler's per-file step, as numpy.distutils did); other compilers as usual."""

    def build_extension(self, ext: Any) -> None:
        compiler = self.compiler
        if getattr(compiler, "compiler_type", "") == "unix" and hasattr(compiler, "_compile"):
            compiler.compile = _parallel_compile.__get__(compiler)  # type: ignore[method-assign]
        super().build_extension(ext)


def _parallel_compile(self: Any, sources: list[str], output_dir: str | None = None, macros: Any = None,
                      include_dirs: Any = None, debug: int = 0, extra_preargs: Any = None,
                      extra_postargs: Any = None, depends: Any = None) -> list[str]:
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

    def compile_one(obj: str) -> None:
        src, ext = build[obj]
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(compile_one, [obj for obj in objects if obj in build]))
    return objects


setup(cffi_modules=["build_native.py:ffibuilder"], cmdclass={"build_ext": ParallelBuildExt})
