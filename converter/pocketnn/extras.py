"""Say which optional extra to install when a feature's module is missing.

The runtime needs only numpy and cffi; converting and verifying need the extras
declared in pyproject.toml. A ModuleNotFoundError for one of their modules becomes a
MissingExtraError naming the extra instead of a traceback.
"""

from __future__ import annotations

from pocketnn.errors import PocketnnError

# The top-level modules the extras of pyproject.toml install.
EXTRA_MODULES = frozenset({"onnx", "onnxruntime", "rich", "scipy"})


class MissingExtraError(PocketnnError, ModuleNotFoundError):
    """A feature needs a package of an optional extra that is not installed."""


def missing_extra(exc: ModuleNotFoundError, feature: str, extra: str) -> MissingExtraError | None:
    """The error to raise for ``exc`` when its module comes from an extra, else None."""
    module = (exc.name or "").partition(".")[0]
    if module not in EXTRA_MODULES:
        return None
    return MissingExtraError(
        f"{feature} needs the [{extra}] extra (module {module!r} is not installed): "
        f"pip install 'pocketnn[{extra}]'", name=module)
