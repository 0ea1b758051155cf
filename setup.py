"""Builds the cffi extension pocketnn._native (see build_native.py)."""

from setuptools import setup

setup(cffi_modules=["build_native.py:ffibuilder"])
