// RUN: accelflow-opt %s | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

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

// CHECK:      %y = accel_isa.layer "matmul" %a, %b attributes {onnx_outputs = ["y"], layer_name = "/fc", dims = {g = 1 : i64, m = 4 : i64, n = 4 : i64, k = 8 : i64}, geometry = {}, mapping = #accel.mapping<is, tiles {g = 1, m = 4, n = 4, k = 4}, order [g, m, k, n], directives "TemporalMap(1,1) G; TemporalMap(4,4) M; TemporalMap(4,4) K; TemporalMap(4,4) N">} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
// CHECK-NEXT:   accel_isa.config "is"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.load "weight"[1] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.compute in[0] w[1] out[0] acc false gemm [1, 4, 4, 4] at [0, 0, 0, 0] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.load "output"[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.compute in[0] w[1] out[0] acc true gemm [1, 4, 4, 4] at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT:   accel_isa.store[0] bytes 16 at [0, 0, 0, 4] size [1, 4, 4, 4]
// CHECK-NEXT: }

// GENERIC:      "accel_isa.layer"(%{{.*}}, %{{.*}}) <{kind = "matmul", layer_name = "/fc", dims = {g = 1 : i64, m = 4 : i64, n = 4 : i64, k = 8 : i64}, geometry = {}, mapping = #accel.mapping<is, {{.*}}>}> ({
// GENERIC-NEXT:   "accel_isa.config"() <{dataflow = "is"}> : () -> ()
// GENERIC-NEXT:   "accel_isa.load"() <{buffer = "input", slot = 0 : i64, bytes = 16 : i64, offsets = array<i64: 0, 0, 0, 0>, sizes = array<i64: 1, 4, 4, 4>}> : () -> ()
// GENERIC-NEXT:   "accel_isa.load"() <{buffer = "weight", slot = 1 : i64,
// GENERIC-NEXT:   "accel_isa.compute"() <{s_in = 0 : i64, s_w = 1 : i64, s_out = 0 : i64, acc = false, gemm = array<i64: 1, 4, 4, 4>, offsets = array<i64: 0, 0, 0, 0>, sizes = array<i64: 1, 4, 4, 4>}> : () -> ()
// GENERIC-NEXT:   "accel_isa.load"() <{buffer = "output"
// GENERIC-NEXT:   "accel_isa.compute"() <{{.*}}acc = true
// GENERIC-NEXT:   "accel_isa.store"() <{slot = 0 : i64, bytes = 16 : i64, offsets = array<i64: 0, 0, 0, 4>, sizes = array<i64: 1, 4, 4, 4>}> : () -> ()
// GENERIC-NEXT: }) {onnx_outputs = ["y"]} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
