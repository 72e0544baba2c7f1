// RUN: accelflow-opt %s -p 'accel-map' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map{spatial="T_R=3 T_S=3 T_C=2 T_K=2" layer="/conv"},accel-map{spatial="T_N=8 T_K=8" layer="/fc"}' | filecheck %s --check-prefix=STONNE
// RUN: accelflow-opt %s -p 'accel-map{spatial="r=3 s=3 c=2 k=2" layer="/conv"},accel-tile,accel-emit' | filecheck %s --check-prefix=EMIT
// RUN: not accelflow-opt %s -p 'accel-map{spatial="T_R=3 T_S=3 T_C=4 T_K=4"}' 2>&1 | filecheck %s --check-prefix=TOOBIG
// RUN: not accelflow-opt %s -p 'accel-map{spatial="T_Q=3"}' 2>&1 | filecheck %s --check-prefix=BADNAME

// A MAERI target with 64 multipliers, 8 read ports: the conv3-like layer of
// bench/validation/stonne.csv and an FC layer.
builtin.module attributes {accel.target = #accel.target<"maeri-64", {arch = "maeri", num_multipliers = 64, dn_bw_elems_per_cycle = 8, rn_bw_elems_per_cycle = 8, accumulation_buffer = true, global_buffer = "shared", dataflow = "os", ifmap_sram_kib = 512.0, filter_sram_kib = 512.0, ofmap_sram_kib = 512.0}>} {
  func.func @main(%x: tensor<1x32x15x15xf32>, %w: tensor<32x32x3x3xf32>, %a: tensor<1x64xf32>, %b: tensor<64x32xf32>) -> (tensor<1x32x13x13xf32>, tensor<1x32xf32>) {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x32x15x15xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x13x13xf32>
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<1x64xf32>, tensor<64x32xf32>) -> tensor<1x32xf32>
    func.return %y, %z : tensor<1x32x13x13xf32>, tensor<1x32xf32>
  }
}

// The default heuristic costs every VN from whole windows down to one multiplier by the closed
// form: 16 VNs of one filter row (T_S=3, T_K=16: 48 of 64 multipliers, 38,992 cycles) beat a whole
// 3x3 window (T_R=3 T_S=3 T_K=4: 36 multipliers, 148,536); the FC's 32 outputs as 32 VNs of 2
// (329 cycles) beat one VN of the whole 64-long reduction (736).
// CHECK:      spatial {k = vns 16, s = vn 3}
// CHECK-SAME: directives "TemporalMap(1,1) G; SpatialMap(16,16) K; TemporalMap(1,1) N; TemporalMap(13,13) Y; TemporalMap(13,13) X; TemporalMap(32,32) C; TemporalMap(3,3) R; SpatialMap(3,3) S"
// CHECK:      accel.matmul
// CHECK-SAME: spatial {n = vns 32, k = vn 2}

// STONNE's names: T_R T_S T_C T_K for the conv, T_N T_K for the FC (T_K is the output channels
// of a conv but the reduction of a GEMM, like STONNE does; give each layer its own option).
// STONNE:      accel.conv2d
// STONNE-SAME: spatial {k = vns 2, c = vn 2, r = vn 3, s = vn 3}
// STONNE:      accel.matmul
// STONNE-SAME: spatial {n = vns 8, k = vn 8}

// The CONFIG sets the virtual neurons: the spatial tile per dim (n g k c y x r s); the simulator
// derives the controller's step costs from it (tests/compiler/test_tiling_maeri.py checks them).
// The FC keeps its default mapping.
// EMIT:      accel_isa.layer "conv2d"
// EMIT-NEXT:   accel_isa.config "os" spatial [1, 1, 2, 2, 1, 1, 3, 3]
// EMIT:      accel_isa.layer "matmul"
// EMIT-NEXT:   accel_isa.config "os" spatial [1, 1, 32, 2]

// TOOBIG: layer '/conv': spatial tile k4*c4*r3*s3 needs 144 multipliers (4 VNs of 36) but the target has 64

// BADNAME: spatial tile names unknown dim 'T_Q'
