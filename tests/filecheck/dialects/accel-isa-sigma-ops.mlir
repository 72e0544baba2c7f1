// RUN: accelflow-opt %s | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// SIGMA's computes carry the bitmap statistics of their tile's weights: [sg_iters, sg_fill,
// sg_col, sg_kreads, w_nnz, w_bitmap_bits] and STONNE's energy events per streamed column
// [sg_fwd, sg_vns, sg_three, sg_rn] (simulator/arch/sigma.py); the weight load moves the
// compressed tile (non-zeros + one bit per element).
func.func @main(%a: tensor<1x8xf32>, %b: tensor<8x4xf32>) -> tensor<1x4xf32> {
  %y = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc", dims = {g = 1 : i64, m = 1 : i64, n = 4 : i64, k = 8 : i64}, geometry = {}, mapping = #accel.mapping<os, tiles {g = 1, m = 1, n = 4, k = 8}, order [g, n, m, k], directives "TemporalMap(1,1) G; TemporalMap(4,4) N; TemporalMap(1,1) M; TemporalMap(8,8) K">} : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32> {
    accel_isa.config "os"
    accel_isa.load "input"[0] bytes 8 at [0, 0, 0, 0] size [1, 1, 4, 8]
    accel_isa.load "weight"[0] bytes 14 at [0, 0, 0, 0] size [1, 1, 4, 8]
    accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1, 4, 8] at [0, 0, 0, 0] size [1, 1, 4, 8] sparse [4, 12, 4, 10, 10, 32, 1, 4, 0, 15]
    accel_isa.store[0] bytes 4 at [0, 0, 0, 0] size [1, 1, 4, 8]
  }
  func.return %y : tensor<1x4xf32>
}

// CHECK:      accel_isa.load "weight"[0] bytes 14
// CHECK-NEXT: accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1, 4, 8] at [0, 0, 0, 0] size [1, 1, 4, 8] sparse [4, 12, 4, 10, 10, 32, 1, 4, 0, 15]
// CHECK-NEXT: accel_isa.store

// GENERIC: "accel_isa.compute"() <{s_in = 0 : i64, s_w = 0 : i64, s_out = 0 : i64, acc = false, gemm = array<i64: 1, 1, 4, 8>, offsets = array<i64: 0, 0, 0, 0>, sizes = array<i64: 1, 1, 4, 8>, sparse = array<i64: 4, 12, 4, 10, 10, 32, 1, 4, 0, 15>}> : () -> ()
