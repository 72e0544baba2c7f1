// RUN: accelflow-opt %s -p 'accel-tile{tile-k=3 tile-y=5}' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-tile{double-buffer=off}' | filecheck %s --check-prefix=SINGLE
// RUN: accelflow-opt %s -p 'accel-map{order=cgknyxrs dataflow=os},accel-tile{tile-c=2 tile-k=8 layer="/conv"}' | filecheck %s --check-prefix=PSUM
// RUN: accelflow-opt %s -p 'accel-tile{tile-k=3 tile-y=5}' --print-op-generic | accelflow-opt | filecheck %s

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%x: tensor<1x8x12x12xf32>, %w: tensor<16x8x3x3xf32>, %a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> (tensor<1x16x12x12xf32>, tensor<6x12xf32>) {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %y, %z : tensor<1x16x12x12xf32>, tensor<6x12xf32>
  }
}

// Fixed tiles that do not divide the extents (k: 16 = 5*3 + 1, y: 12 = 2*5 + 2); the other tiles
// are chosen to fit; dims with one tile get no loop (their tile is the extent); the tile-level
// mapping keeps only the dataflow and the spatial unroll (the body says the rest); the weight tile is loaded in the k loop,
// outside y and x (reused); the input and the store are innermost.
// CHECK:      %y = accel.tiled "conv2d" %x, %w attributes {layer_name = "/conv",
// CHECK-SAME:   dims = {n = 1 : i64, g = 1 : i64, k = 16 : i64, c = 8 : i64, y = 12 : i64, x = 12 : i64, r = 3 : i64, s = 3 : i64},
// CHECK-SAME:   geometry = {strides = [1 : i64, 1 : i64], pads = [1 : i64, 1 : i64, 1 : i64, 1 : i64], dilations = [1 : i64, 1 : i64], group = 1 : i64},
// CHECK-SAME:   mapping = #accel.mapping<ws, spatial {c = rows 4, k = cols 4}>}
// CHECK-SAME:   : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32> {
// CHECK-NEXT:   accel.tile_for "k" tile 3 extent 16 {
// CHECK-NEXT:     accel.tile_load "weight" double_buffer = true
// CHECK-NEXT:     accel.tile_for "y" tile 5 extent 12 {
// CHECK-NEXT:       accel.tile_for "x" tile 6 extent 12 {
// CHECK-NEXT:         accel.tile_load "input" double_buffer = true
// CHECK-NEXT:         accel.tile_compute
// CHECK-NEXT:         accel.tile_store "output" double_buffer = true
// CHECK-NEXT:       }
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT: }
// The matmul's k is its reduction: one output tile, stored after the loop.
// CHECK-NEXT: %z = accel.tiled "matmul" %a, %b attributes {layer_name = "/fc", dims = {g = 1 : i64, m = 6 : i64, n = 12 : i64, k = 32 : i64}, geometry = {},
// CHECK-SAME:   mapping = #accel.mapping<ws, spatial {k = rows 4, n = cols 4}>}
// CHECK-NEXT:   accel.tile_for "k" tile 3 extent 32 {
// CHECK-NEXT:     accel.tile_load "input" double_buffer = true
// CHECK-NEXT:     accel.tile_load "weight" double_buffer = true
// CHECK-NEXT:     accel.tile_compute
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.tile_store "output" double_buffer = true
// CHECK-NEXT: }

// Single-buffered: the tiles may fill each buffer once (larger tiles, fewer loops).
// SINGLE:      %y = accel.tiled "conv2d"
// SINGLE-SAME:   mapping = #accel.mapping<ws, spatial {c = rows 4, k = cols 4}>}
// SINGLE-NEXT:   accel.tile_for "k" tile 8 extent 16 {
// SINGLE-NEXT:     accel.tile_load "weight" double_buffer = false
// SINGLE-NEXT:     accel.tile_for "y" tile 6 extent 12 {
// SINGLE-NEXT:       accel.tile_load "input" double_buffer = false
// SINGLE-NEXT:       accel.tile_compute
// SINGLE-NEXT:       accel.tile_store "output" double_buffer = false
// SINGLE:      %z = accel.tiled "matmul"
// SINGLE-NEXT:   accel.tile_load "input" double_buffer = false
// SINGLE-NEXT:   accel.tile_load "weight" double_buffer = false
// SINGLE-NEXT:   accel.tile_compute
// SINGLE-NEXT:   accel.tile_store "output" double_buffer = false
// SINGLE-NEXT: }

// A reduction loop (c) outside the output loops: partial sums are reloaded with each output tile.
// Only /conv is tiled.
// PSUM:      %y = accel.tiled "conv2d"
// PSUM-NEXT:   accel.tile_for "c" tile 2 extent 8 {
// PSUM-NEXT:     accel.tile_for "k" tile 8 extent 16 {
// PSUM-NEXT:       accel.tile_load "weight" double_buffer = true
// PSUM-NEXT:       accel.tile_for "y" tile 6 extent 12 {
// PSUM-NEXT:         accel.tile_for "x" tile 6 extent 12 {
// PSUM-NEXT:           accel.tile_load "input" double_buffer = true
// PSUM-NEXT:           accel.tile_load "output" double_buffer = true
// PSUM-NEXT:           accel.tile_compute
// PSUM-NEXT:           accel.tile_store "output" double_buffer = true
// PSUM:      %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<os,
