// RUN: accelflow-opt %s -p 'accel-retarget{target=maeri-64}' | filecheck %s
// RUN: accelflow-opt %s -p 'onnx-to-accel{target=sigma-64}' | filecheck %s --check-prefix=ONNX
// RUN: accelflow-opt %s -p 'onnx-to-accel' | filecheck %s --check-prefix=KEEP
// RUN: not accelflow-opt %s -p 'accel-retarget' 2>&1 | filecheck %s --check-prefix=NONE

// A module for tpu-like-small, re-targeted: the new target replaces the module's (with a warning
// naming both: tests/compiler/test_opt_retarget.py); onnx-to-accel{target=...} does the same;
// without target it keeps the module's.

// CHECK:      builtin.module attributes {accel.target = #accel.target<"maeri-64", {arch = "maeri"
// ONNX:       builtin.module attributes {accel.target = #accel.target<"sigma-64", {arch = "sigma"
// KEEP:       builtin.module attributes {accel.target = #accel.target<"tpu-like-small"
// NONE:       accel-retarget: give target=NAME (a preset or a YAML path)

builtin.module attributes {accel.target = #accel.target<"tpu-like-small", {rows = 8, cols = 8}>} {
  func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {onnx.input_names = ["x"], onnx.output_names = ["x"]} {
    func.return %x : tensor<1x4xf32>
  }
}
