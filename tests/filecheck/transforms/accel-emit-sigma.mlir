// RUN: accelflow-opt %s -p 'accel-map,accel-tile,accel-emit' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map,accel-tile,accel-emit' | accelflow-opt --print-op-generic | accelflow-opt | filecheck %s
// RUN: not accelflow-opt %s -p 'accel-map{spatial="T_N=2"}' 2>&1 | filecheck %s --check-prefix=SPATIAL

// A SIGMA target with 4 multipliers (one per read port) and a matmul whose weight b (8 x 4) is
// a constant: the stationary rows are b's columns, with non-zeros at k = {0, 1}, {}, {0, 2, 4},
// {1, 2, 3, 5, 7}. Packing into 4 multipliers: [n0] (n1 has none: skipped), [n2], then n3 has
// 5 > 4 non-zeros and is split into [1 2 3 5] and [psum, 7]: 4 stationary iterations, each
// W = s = b = 1 (fill 3, 1 cycle per column), reading 2 + 3 + 4 + 1 = 10 streamed elements per
// column; 10 non-zeros of 32 elements. Per column: 1 partial sum forwarded in (the later
// chunk), 4 results written, no 3:1 addition, 2 + 5 + 6 + 2 = 15 reduction links.
builtin.module attributes {accel.target = #accel.target<"sigma-4", {arch = "sigma", num_multipliers = 4, dn_bw_elems_per_cycle = 4, rn_bw_elems_per_cycle = 4, global_buffer = "shared", dataflow = "os", dram_latency_cycles = 0}>} {
  func.func @main(%a: tensor<1x8xf32>) -> tensor<1x4xf32> {
    %b = accel.constant {tensor_name = "b", value = dense<[[1.0, 0.0, 2.0, 0.0], [3.0, 0.0, 0.0, 4.0], [0.0, 0.0, 5.0, 6.0], [0.0, 0.0, 0.0, 7.0], [0.0, 0.0, 8.0, 0.0], [0.0, 0.0, 0.0, 9.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.5]]> : tensor<8x4xf32>} : tensor<8x4xf32>
    %y = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
    func.return %y : tensor<1x4xf32>
  }
}

// No spatial unroll on SIGMA; the weight load moves 10 non-zeros + 4 bytes of bitmap.
// CHECK:      accel_isa.layer "matmul"
// CHECK-NEXT:   accel_isa.config "os"
// CHECK-DAG:    accel_isa.load "weight"[0] bytes 14 at [0, 0, 0, 0] size [1, 1, 4, 8]
// CHECK-DAG:    accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1, 4, 8] at [0, 0, 0, 0] size [1, 1, 4, 8] sparse [4, 12, 4, 10, 10, 32, 1, 4, 0, 15]

// SPATIAL: layer '/fc': the spatial option sets MAERI's spatial tile; target 'sigma-4' is sigma
