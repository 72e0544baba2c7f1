"""`accelflow-opt`: xdsl-opt with accelflow's dialects and passes.

    accelflow-opt model.mlir -p 'onnx-to-accel,accel-map{dataflow=os},accel-tile{tile-k=8},accel-emit'
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from xdsl.context import Context
from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.xdsl_opt_main import xDSLOptMain


def _onnx() -> Dialect:
    from dialects.onnx import ONNX

    return ONNX


def _accel() -> Dialect:
    from dialects.accel import Accel

    return Accel


def _accel_isa() -> Dialect:
    from dialects.accel_isa import AccelISA

    return AccelISA


DIALECTS: dict[str, Callable[[], Dialect]] = {
    "onnx": _onnx,
    "accel": _accel,
    "accel_isa": _accel_isa,
}


def _onnx_to_accel() -> type[ModulePass]:
    from compiler.passes.onnx_to_accel import OnnxToAccelPass

    return OnnxToAccelPass


def _accel_map() -> type[ModulePass]:
    from compiler.passes.accel_map import AccelMapPass

    return AccelMapPass


def _accel_tile() -> type[ModulePass]:
    from compiler.passes.accel_tile import AccelTilePass

    return AccelTilePass


def _accel_emit() -> type[ModulePass]:
    from compiler.passes.accel_emit import AccelEmitPass

    return AccelEmitPass


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "onnx-to-accel": _onnx_to_accel,
    "accel-map": _accel_map,
    "accel-tile": _accel_tile,
    "accel-emit": _accel_emit,
}


def register_accelflow(ctx: Context) -> None:
    """Make our dialects loadable in `ctx` (lazily, as xDSL does)."""
    for name, factory in DIALECTS.items():
        if name not in ctx.registered_dialect_names:
            ctx.register_dialect(name, factory)


class AccelOptMain(xDSLOptMain):
    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        register_accelflow(self.ctx)

    def register_all_passes(self) -> None:
        super().register_all_passes()
        for name, factory in PASSES.items():
            self.register_pass(name, factory)


def main(args: Sequence[str] | None = None) -> None:
    AccelOptMain(args=list(args) if args is not None else None).run()


if __name__ == "__main__":
    sys.exit(main())
