// RUN: accelflow-opt %s -p 'accel-tile{tile-k=3 tile-y=5},accel-emit' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-tile{tile-k=3 tile-y=5 double-buffer=off},accel-emit' | filecheck %s --check-prefix=SINGLE
// RUN: accelflow-opt %s -p 'accel-emit' | filecheck %s --check-prefix=UNTILED

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%x: tensor<1x8x12x12xf32>, %w: tensor<16x8x3x3xf32>, %a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> (tensor<1x16x12x12xf32>, tensor<6x12xf32>) {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %y, %z : tensor<1x16x12x12xf32>, tensor<6x12xf32>
  }
}

// conv: 6 k tiles x 3 y tiles x 2 x tiles = 36 tile iterations: config, 6 weight loads,
// 36 input loads, 36 computes, 36 stores (115 rows); slots alternate when double-buffered and
// the previous output tile is stored after the next prefetch.
// CHECK:      %y = accel_isa.layer "conv2d" %x, %w attributes {layer_name = "/conv", dims = {n = 1 : i64, g = 1 : i64, k = 16 : i64
// CHECK-SAME:   mapping = #accel.mapping<ws, tiles {n = 1, g = 1, k = 3, c = 8, y = 5, x = 6, r = 3, s = 3}
// CHECK-NEXT:   accel_isa.config "ws"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 448 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-NEXT:   accel_isa.load "weight"[0] bytes 216 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 30, 3, 72] at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-NEXT:   accel_isa.load "input"[1] bytes 448 at [0, 0, 0, 0, 0, 6, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-NEXT:   accel_isa.store[0] bytes 90 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-NEXT:   accel_isa.compute in[1] w[0] out[1] acc false gemm [1, 30, 3, 72] at [0, 0, 0, 0, 0, 6, 0, 0] size [1, 1, 3, 8, 5, 6, 3, 3]
// CHECK-COUNT-33: accel_isa.compute
// CHECK-NOT:  accel_isa.compute
// The last tile is an edge tile in k (15+1) and y (10+2).
// CHECK:        accel_isa.load "input"[1] bytes 256 at [0, 0, 15, 0, 10, 6, 0, 0] size [1, 1, 1, 8, 2, 6, 3, 3]
// CHECK-NEXT:   accel_isa.store[0] bytes 12 at [0, 0, 15, 0, 10, 0, 0, 0] size [1, 1, 1, 8, 2, 6, 3, 3]
// CHECK-NEXT:   accel_isa.compute in[1] w[1] out[1] acc false gemm [1, 12, 1, 72] at [0, 0, 15, 0, 10, 6, 0, 0] size [1, 1, 1, 8, 2, 6, 3, 3]
// CHECK-NEXT:   accel_isa.store[1] bytes 12 at [0, 0, 15, 0, 10, 6, 0, 0] size [1, 1, 1, 8, 2, 6, 3, 3]
// CHECK-NEXT: }
// matmul: 11 k tiles accumulate into one output tile (acc true after the first), one store.
// CHECK-NEXT: %z = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc"
// CHECK-NEXT:   accel_isa.config "ws"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 18 at [0, 0, 0, 0] size [1, 6, 12, 3]
// CHECK-NEXT:   accel_isa.load "weight"[0] bytes 36 at [0, 0, 0, 0] size [1, 6, 12, 3]
// CHECK-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 6, 12, 3] at [0, 0, 0, 0] size [1, 6, 12, 3]
// CHECK-NEXT:   accel_isa.load "input"[1] bytes 18 at [0, 0, 0, 3] size [1, 6, 12, 3]
// CHECK-NEXT:   accel_isa.load "weight"[1] bytes 36 at [0, 0, 0, 3] size [1, 6, 12, 3]
// CHECK-NEXT:   accel_isa.compute in[1] w[1] out[0] acc true gemm [1, 6, 12, 3] at [0, 0, 0, 3] size [1, 6, 12, 3]
// CHECK-COUNT-9: accel_isa.compute {{.*}} acc true
// CHECK-NEXT:   accel_isa.store[0] bytes 72 at [0, 0, 0, 30] size [1, 6, 12, 2]
// CHECK-NEXT: }

// Single-buffered: every slot is 0 and the store precedes the next tile's loads.
// SINGLE:      accel_isa.layer "conv2d"
// SINGLE-NEXT:   accel_isa.config "ws"
// SINGLE-NEXT:   accel_isa.load "input"[0] bytes 784 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 12, 3, 3]
// SINGLE-NEXT:   accel_isa.load "weight"[0] bytes 216 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 12, 3, 3]
// SINGLE-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 60, 3, 72] at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 12, 3, 3]
// SINGLE-NEXT:   accel_isa.store[0] bytes 180 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 3, 8, 5, 12, 3, 3]
// SINGLE-NEXT:   accel_isa.load "input"[0] bytes 784 at [0, 0, 0, 0, 5, 0, 0, 0] size [1, 1, 3, 8, 5, 12, 3, 3]
// SINGLE-NOT:    [1]

// accel-emit only lowers tiled layers.
// UNTILED: %y = accel.conv2d
// UNTILED: %z = accel.matmul
