"""Fine-grained group sparsity in the converter (docs/SPARSITY.md).

`compress(graph, options, calib)` is the stage conversion.py runs after the passes:
plan -> timing (sparse or dense, G) -> channel rearrangement -> group pruning (masks by
magnitude, OBS or SparseGPT) -> least-squares reconstruction -> mark weights group-sparse for the writer.
"""

from __future__ import annotations

from pocketnn.sparsity.calibration import (
                                      CalibrationError,
                                      CalibSource,
                                      load_calibration,
)
from pocketnn.sparsity.pipeline import (
                                      LayerReport,
                                      SparsityReport,
                                      compress,
                                      overall_sparsity,
)
from pocketnn.sparsity.recipe import (
                                      LayerRule,
                                      Recipe,
                                      RecipeError,
                                      SparsityOptions,
                                      load_recipe,
                                      parse_pattern,
                                      parse_recipe,
                                      parse_sparsity,
)

__all__ = ["CalibSource", "CalibrationError", "LayerReport", "LayerRule", "Recipe", "RecipeError",
           "SparsityOptions", "SparsityReport", "compress", "load_calibration", "load_recipe",
           "overall_sparsity", "parse_pattern", "parse_recipe", "parse_sparsity"]
