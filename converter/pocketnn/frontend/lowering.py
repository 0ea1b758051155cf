"""Dispatch of ONNX nodes to their lowering functions (docs/OPS.md)."""

from __future__ import annotations

from pocketnn.errors import ModelError, UnsupportedOpError
from pocketnn.frontend import (
    lowering_dynamic_quant,
    lowering_elementwise,
    lowering_nn,
    lowering_recurrent,
    lowering_resize,
    lowering_tensor,
    lowering_values,
)
from pocketnn.frontend.context import LowerFn, LoweringContext, OnnxNode
from pocketnn.frontend.loops import LOOP_OPS
from pocketnn.frontend.recurrent import RECURRENT_OPS

LOWERINGS: dict[str, LowerFn] = {
    **lowering_nn.LOWERINGS,
    **lowering_tensor.LOWERINGS,
    **lowering_elementwise.LOWERINGS,
    **lowering_resize.LOWERINGS,
    **lowering_values.LOWERINGS,
    **lowering_dynamic_quant.LOWERINGS,
    **lowering_recurrent.LOWERINGS,
}
# Ops meant for runtime values: with constant inputs they fold, and a constant too large
# to fold is an error rather than a runtime computation. A large constant Cast (float16
# weights cast to float) stays a runtime copy, as before.
VALUE_OPS = frozenset(lowering_values.LOWERINGS) - {"Cast", "CastLike"}
# Ops the converter resolves before lowering: If by folding its condition
# (control_flow.py), Loop/Scan with static trip counts by unrolling them (loops.py),
# recurrent layers the runtime cannot compute whole by unrolling them (recurrent.py).
CONVERT_TIME_OPS = frozenset({"If"}) | LOOP_OPS | RECURRENT_OPS
SUPPORTED_ONNX_OPS: tuple[str, ...] = tuple(sorted(set(LOWERINGS) | CONVERT_TIME_OPS))


def unsupported_op_error(name: str, op_type: str, domain: str = "") -> UnsupportedOpError:
    where = f" (domain '{domain}')" if domain not in ("", "ai.onnx") else ""
    return UnsupportedOpError(
        f"node '{name}' ({op_type}){where}: op not supported by pocketnn; supported ONNX ops "
        f"(when not folded to constants): {', '.join(SUPPORTED_ONNX_OPS)}"
    )


def is_supported(op_type: str, domain: str) -> bool:
    return domain in ("", "ai.onnx") and op_type in LOWERINGS


def lower_node(ctx: LoweringContext, node: OnnxNode) -> None:
    fn = LOWERINGS.get(node.op_type)
    if fn is None:
        raise unsupported_op_error(node.name, node.op_type)
    try:
        fn(ctx, node)
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        # The lowerings check what they rely on; this names the node for anything a
        # hostile model still gets past them, instead of a bare Python traceback.
        raise ModelError(f"{node.describe()}: invalid inputs or attributes "
                         f"({type(exc).__name__}: {exc})") from exc
