// RUN: accelflow-opt %s -p 'demo-count-instructions' | accelflow-opt -p 'demo-count-instructions' | filecheck %s
// RUN: accelflow-opt %s -p 'demo-count-instructions' --print-op-generic | filecheck %s --check-prefix=GENERIC

func.func @main(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %y = accel_isa.layer "matmul" %a, %b attributes {onnx_outputs = ["y"], layer_name = "/fc", dims = {g = 1 : i64, m = 4 : i64, n = 4 : i64, k = 8 : i64}, geometry = {}, mapping = #accel.mapping<is, tiles {g = 1, m = 4, n = 4, k = 4}, order [g, m, k, n], directives "TemporalMap(1,1) G; TemporalMap(4,4) M; TemporalMap(4,4) K; TemporalMap(4,4) N">} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
    accel_isa.config "is"
    accel_isa.load "input"[0] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
    accel_isa.load "weight"[1] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
    accel_isa.compute in[0] w[1] out[0] acc false gemm [1, 4, 4, 4] at [0, 0, 0, 0] size [1, 4, 4, 4]
    accel_isa.load "output"[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
    accel_isa.compute in[0] w[1] out[0] acc true gemm [1, 4, 4, 4] at [0, 0, 0, 4] size [1, 4, 4, 4]
    accel_isa.store[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
  }
  func.return %y : tensor<4x4xf32>
}

// The layer gains the counts; its instructions are unchanged. The annotated module verifies and
// parses again, and counting it again gives the same.
// CHECK:      %y = accel_isa.layer "matmul" %a, %b attributes {onnx_outputs = ["y"], demo.instructions = {load = 3 : i64, compute = 2 : i64, store = 1 : i64}, layer_name = "/fc",
// CHECK-NEXT:   accel_isa.config "is"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.load "weight"[1] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.compute in[0] w[1] out[0] acc false gemm [1, 4, 4, 4] at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.load "output"[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.compute in[0] w[1] out[0] acc true gemm [1, 4, 4, 4] at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.store[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT: }

// A discardable attribute, next to the layer's properties:
// GENERIC:    "accel_isa.layer"(%{{.*}}, %{{.*}}) <{kind = "matmul", layer_name = "/fc", {{.*}}}> ({
// GENERIC:    }) {onnx_outputs = ["y"], demo.instructions = {load = 3 : i64, compute = 2 : i64, store = 1 : i64}} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
