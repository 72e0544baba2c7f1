// RUN: accelflow-opt %s | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// MAERI's CONFIG sets the virtual neurons: the spatial tile per loop dim (g m n k here: 8 VNs
// of 8 multipliers); the simulator derives the controller's step costs from it.
func.func @main(%a: tensor<1x64xf32>, %b: tensor<64x32xf32>) -> tensor<1x32xf32> {
  %y = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc", dims = {g = 1 : i64, m = 1 : i64, n = 32 : i64, k = 64 : i64}, geometry = {}, mapping = #accel.mapping<os, tiles {g = 1, m = 1, n = 32, k = 64}, order [g, n, m, k], spatial {n = vns 8, k = vn 8}, directives "TemporalMap(1,1) G; SpatialMap(8,8) N; TemporalMap(1,1) M; SpatialMap(8,8) K">} : (tensor<1x64xf32>, tensor<64x32xf32>) -> tensor<1x32xf32> {
    accel_isa.config "os" spatial [1, 1, 8, 8]
    accel_isa.load "input"[0] bytes 64 at [0, 0, 0, 0] size [1, 1, 32, 64]
    accel_isa.load "weight"[0] bytes 2048 at [0, 0, 0, 0] size [1, 1, 32, 64]
    accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1, 32, 64] at [0, 0, 0, 0] size [1, 1, 32, 64]
    accel_isa.store[0] bytes 32 at [0, 0, 0, 0] size [1, 1, 32, 64]
  }
  func.return %y : tensor<1x32xf32>
}

// CHECK:      accel_isa.layer "matmul"
// CHECK-NEXT:   accel_isa.config "os" spatial [1, 1, 8, 8]
// CHECK-NEXT:   accel_isa.load "input"[0]

// GENERIC: "accel_isa.config"() <{dataflow = "os", spatial = array<i64: 1, 1, 8, 8>}> : () -> ()
