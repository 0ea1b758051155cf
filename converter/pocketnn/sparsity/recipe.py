"""Sparsity options and the JSON recipe (docs/SPARSITY.md): per-layer targets by node name.

A recipe is a JSON object; every key is optional:

    {"sparsity": 0.8, "pattern": "auto", "scope": "all", "method": "obs",
     "allocation": "sensitivity", "min_channels": 16, "skip_first_conv": true, "rearrange": true,
     "layers": [{"match": "/features/features.6/*", "sparsity": 0.5, "pattern": 4},
                {"match": "classifier*", "skip": true}]}

Rules are applied in order; a later matching rule overrides the keys it sets. ``match``
is a node name or a shell-style pattern (``fnmatch``, case-sensitive).
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Union

from pocketnn.errors import PocketnnError

Pattern = Union[Literal["auto"], int]  # noqa: UP007 (a runtime alias)
GROUP_SIZES = (1, 2, 4, 8)
# "all": every group-1 Conv and Gemm/MatMul but the first conv is pruned, each stored
# sparse or dense by speed; "pointwise": 1x1 convs and Gemm/MatMul with >= min_channels
# (16) channels, and only where sparse runs faster (the earlier default).
SCOPES = ("all", "pointwise")
METHODS = ("best", "obs", "sparsegpt", "magnitude")
# "sensitivity": with calibration data, S is shared out between the layers by their
# measured effect on the outputs (allocate.py); "uniform": every layer S.
ALLOCATIONS = ("sensitivity", "uniform")
POINTWISE_MIN_CHANNELS = 16


class RecipeError(PocketnnError, ValueError):
    """A sparsity option or recipe that cannot be used; the message says what and where."""


def parse_sparsity(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecipeError(f"{where}: sparsity must be a number in [0, 1), got {value!r}")
    s = float(value)
    if not 0.0 <= s < 1.0:
        raise RecipeError(f"{where}: sparsity must be in [0, 1) (the fraction of weights "
                          f"set to zero), got {s}")
    return s


def parse_pattern(value: object, where: str) -> Pattern:
    """"auto" or a group size; the CLI's strings "1".."8" are accepted too."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and value in GROUP_SIZES:
        return value
    raise RecipeError(f"{where}: pattern must be \"auto\" or one of {list(GROUP_SIZES)} "
                      f"(output channels per group), got {value!r}")


@dataclass(frozen=True)
class LayerRule:
    match: str
    sparsity: float | None = None
    pattern: Pattern | None = None
    skip: bool | None = None

    def matches(self, node_name: str) -> bool:
        return fnmatch.fnmatchcase(node_name, self.match)


@dataclass(frozen=True)
class Recipe:
    sparsity: float | None = None
    pattern: Pattern | None = None
    min_channels: int | None = None
    skip_first_conv: bool | None = None
    scope: str | None = None
    method: str | None = None
    allocation: str | None = None
    ridge: float | None = None
    rearrange: bool | None = None
    layers: tuple[LayerRule, ...] = ()


_TOP_KEYS = {"sparsity", "pattern", "min_channels", "skip_first_conv", "scope", "method", "allocation", "ridge",
             "rearrange", "layers"}
_RULE_KEYS = {"match", "sparsity", "pattern", "skip"}


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(f"{where}: must be true or false, got {value!r}")
    return value


def _choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RecipeError(f"{where}: must be one of {list(allowed)}, got {value!r}")
    return str(value)


def _ridge(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
        raise RecipeError(f"recipe ridge: must be a number in (0, 10] (the refit's damping, a fraction of the "
                          f"inputs' mean square), got {value!r}")
    return float(value)


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise RecipeError(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}")


def _rule(item: object, index: int) -> LayerRule:
    where = f"recipe layers[{index}]"
    if not isinstance(item, dict):
        raise RecipeError(f"{where}: must be an object like {{\"match\": \"conv*\", \"sparsity\": 0.8}}, "
                          f"got {item!r}")
    _unknown(set(item), _RULE_KEYS, where)
    match = item.get("match")
    if not isinstance(match, str) or not match:
        raise RecipeError(f"{where}: \"match\" (a node name or pattern) is required, got {match!r}")
    where = f"{where} ({match!r})"
    if len(item) == 1:
        raise RecipeError(f"{where}: sets nothing; give \"sparsity\", \"pattern\" or \"skip\"")
    return LayerRule(
        match=match,
        sparsity=parse_sparsity(item["sparsity"], where) if "sparsity" in item else None,
        pattern=parse_pattern(item["pattern"], where) if "pattern" in item else None,
        skip=_bool(item["skip"], f"{where} skip") if "skip" in item else None,
    )


def parse_recipe(obj: Mapping[str, Any]) -> Recipe:
    """A Recipe from a decoded JSON object; RecipeError naming the bad key otherwise."""
    if not isinstance(obj, Mapping):
        raise RecipeError(f"recipe: must be a JSON object, got {type(obj).__name__}")
    _unknown(set(obj), _TOP_KEYS, "recipe")
    min_channels = obj.get("min_channels")
    if min_channels is not None and (isinstance(min_channels, bool) or not isinstance(min_channels, int)
                                     or min_channels < 1):
        raise RecipeError(f"recipe min_channels: must be a positive integer, got {min_channels!r}")
    layers = obj.get("layers", [])
    if not isinstance(layers, list):
        raise RecipeError(f"recipe layers: must be a list of rules, got {type(layers).__name__}")
    return Recipe(
        sparsity=parse_sparsity(obj["sparsity"], "recipe") if "sparsity" in obj else None,
        pattern=parse_pattern(obj["pattern"], "recipe") if "pattern" in obj else None,
        min_channels=min_channels,
        skip_first_conv=_bool(obj["skip_first_conv"], "recipe skip_first_conv") if "skip_first_conv" in obj else None,
        scope=_choice(obj["scope"], SCOPES, "recipe scope") if "scope" in obj else None,
        method=_choice(obj["method"], METHODS, "recipe method") if "method" in obj else None,
        allocation=_choice(obj["allocation"], ALLOCATIONS, "recipe allocation") if "allocation" in obj else None,
        ridge=_ridge(obj["ridge"]) if "ridge" in obj else None,
        rearrange=_bool(obj["rearrange"], "recipe rearrange") if "rearrange" in obj else None,
        layers=tuple(_rule(item, i) for i, item in enumerate(layers)),
    )


RecipeSource = Union[str, "os.PathLike[str]", Mapping[str, Any], Recipe]


def load_recipe(source: RecipeSource) -> Recipe:
    """A Recipe from a path to a .json file, a dict, or a Recipe."""
    if isinstance(source, Recipe):
        return source
    if isinstance(source, Mapping):
        return parse_recipe(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror or exc}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"recipe {path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from exc
    try:
        return parse_recipe(obj)
    except RecipeError as exc:
        raise RecipeError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class SparsityOptions:
    """Everything the sparsity stage needs, after the CLI/API and the recipe are merged.

    ``sparsity`` None: only existing sparsity is used (pre-pruned weights stored sparse).
    """

    sparsity: float | None = None
    pattern: Pattern = "auto"
    scope: str = "all"
    method: str = "obs"  # mask choice with calibration data (METHODS; without: magnitude)
    allocation: str = "sensitivity"  # per-layer share of S with calibration data (ALLOCATIONS)
    min_channels: int | None = None  # None: POINTWISE_MIN_CHANNELS in scope "pointwise", else 1
    skip_first_conv: bool = True
    rearrange: bool = True
    rules: tuple[LayerRule, ...] = ()
    prepruned_threshold: float = 0.5
    ridge: float = 0.001       # least damping, a fraction of mean diag X X^T (reconstruct.damping_fraction)
    sequential: bool = True    # reconstruction sees the pruned earlier layers' outputs
    prune_steps: int = 8       # gradual mask selection steps when calibrating
    refit_dense: bool = True   # also refit dense layers downstream of pruned ones (sequential)
    timing: bool = True        # measure dense vs sparse per layer for pattern "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def with_recipe(self, recipe: Recipe | None) -> SparsityOptions:
        """The recipe's top-level keys override these options; its rules are appended."""
        if recipe is None:
            return self
        updates: dict[str, Any] = {k: getattr(recipe, k) for k in
                                   ("sparsity", "pattern", "min_channels", "skip_first_conv",
                                    "scope", "method", "allocation", "ridge", "rearrange")
                                   if getattr(recipe, k) is not None}
        return replace(self, **updates, rules=self.rules + recipe.layers)

    @property
    def smallest_layer(self) -> int:
        """Layers with fewer input or output channels are left dense (unless named)."""
        if self.min_channels is not None:
            return self.min_channels
        return POINTWISE_MIN_CHANNELS if self.scope == "pointwise" else 1


@dataclass(frozen=True)
class LayerTarget:
    """What the options ask for one layer: a sparsity (None = leave it) and a pattern."""

    sparsity: float | None
    pattern: Pattern
    explicit: bool  # a recipe rule named it (overrides the default skips)


def layer_target(options: SparsityOptions, node_name: str) -> LayerTarget:
    sparsity, pattern, explicit = options.sparsity, options.pattern, False
    for rule in options.rules:
        if not rule.matches(node_name):
            continue
        if rule.sparsity is not None:
            sparsity, explicit = rule.sparsity, True
        if rule.pattern is not None:
            pattern = rule.pattern
        if rule.skip is not None:
            explicit = True
            if rule.skip:
                sparsity = None
    return LayerTarget(sparsity, pattern, explicit)


def check_rules_match(options: SparsityOptions, node_names: list[str]) -> None:
    """A rule that matches no node is almost always a typo: say so, with the names."""
    for index, rule in enumerate(options.rules):
        if not any(rule.matches(n) for n in node_names):
            shown = ", ".join(node_names[:12]) + (", ..." if len(node_names) > 12 else "")
            raise RecipeError(f"recipe layers[{index}] ({rule.match!r}) matches no prunable "
                              f"layer; they are: {shown}")
