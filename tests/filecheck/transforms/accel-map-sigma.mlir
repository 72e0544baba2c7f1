// RUN: accelflow-opt %s -p 'accel-map' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-retarget{target=sigma-64},accel-map' | filecheck %s --check-prefix=PORTS

// SIGMA with 64 multipliers but 8 read and 8 write ports: each read port multicasts one package
// per distinct k among its 8 multipliers per streamed column, each write port takes one VN's sum
// per cycle. The conv's whole reduction (c*r*s = 288) makes every port's multipliers hold 8
// different k: 42,411 cycles by the cost model (STONNE: 42,384 for the 16 x 288 x 64 GEMM).
// accel-map weighs shorter reduction tiles (`Sigma.default_tile_options`) and keeps the
// fastest: VNs of one filter row (c = 1, r = 1, s = 3), 96 tiles of 16 VNs of 3, 20,355 cycles
// (STONNE: 210 per tile, 20,160 in all); whole windows (c = 1) would take 51,043.
builtin.module attributes {accel.target = #accel.target<"sigma-64-8ports", {arch = "sigma", num_multipliers = 64, dn_bw_elems_per_cycle = 8, rn_bw_elems_per_cycle = 8, global_buffer = "shared", dataflow = "os", dram_latency_cycles = 0}>} {
  func.func @main(%x: tensor<1x32x10x10xf32>, %w: tensor<16x32x3x3xf32>) -> tensor<1x16x8x8xf32> {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x32x10x10xf32>, tensor<16x32x3x3xf32>) -> tensor<1x16x8x8xf32>
    func.return %y : tensor<1x16x8x8xf32>
  }
}

// CHECK:      accel.conv2d
// CHECK-SAME: tiles {n = 1, g = 1, k = 16, c = 1, y = 8, x = 8, r = 1, s = 3}

// With a port per multiplier (sigma-64) the whole layer is one tile, as the tiler chose it.
// PORTS:      accel.conv2d
// PORTS-SAME: tiles {n = 1, g = 1, k = 16, c = 32, y = 8, x = 8, r = 3, s = 3}
