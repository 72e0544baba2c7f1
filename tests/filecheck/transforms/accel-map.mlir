// RUN: accelflow-opt %s -p accel-map | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map{dataflow=os order=nkgcyxrs}' | filecheck %s --check-prefix=OS
// RUN: accelflow-opt %s -p 'accel-map{dataflow=is order=gmkn layer="/fc"}' | filecheck %s --check-prefix=ONE
// RUN: accelflow-opt %s -p 'accel-map,accel-map{dataflow=os}' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map,accel-map{dataflow=os force=true}' | filecheck %s --check-prefix=FORCE

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%x: tensor<1x8x12x12xf32>, %w: tensor<16x8x3x3xf32>, %a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> (tensor<1x16x12x12xf32>, tensor<6x12xf32>) {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %y, %z : tensor<1x16x12x12xf32>, tensor<6x12xf32>
  }
}

// Default: the target's dataflow (ws), DEFAULT_ORDERS, spatial unroll on the 4x4 array, tiles that fit 1 KiB.
// CHECK:      %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64,
// CHECK-SAME:   mapping = #accel.mapping<ws, tiles {n = 1, g = 1, k = 4, c = 8, y = 6, x = 6, r = 3, s = 3},
// CHECK-SAME:   order [g, k, c, r, s, n, y, x], spatial {c = rows 4, k = cols 4}, double_buffer,
// CHECK-SAME:   directives "TemporalMap(1,1) G; SpatialMap(1,1) K; SpatialMap(1,1) C; TemporalMap(3,3) R; TemporalMap(3,3) S; TemporalMap(1,1) N; TemporalMap(6,6) Y; TemporalMap(6,6) X">}
// CHECK:      %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<ws, tiles {g = 1, m = 6, n = 12, k = 32}, order [g, n, k, m], spatial {k = rows 4, n = cols 4}, double_buffer

// Output stationary with a conv loop order: the matmul (whose dims the order does not name) keeps os's default order.
// OS:         %y = accel.conv2d
// OS-SAME:      mapping = #accel.mapping<os, tiles {{.*}}}, order [n, k, g, c, y, x, r, s], spatial {y = rows 4, k = cols 4}
// OS:         %z = accel.matmul
// OS-SAME:      mapping = #accel.mapping<os, tiles {{.*}}}, order [g, n, m, k], spatial {m = rows 4, n = cols 4}

// Only the named layer.
// ONE:        %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} :
// ONE:        %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<is, tiles {{.*}}}, order [g, m, k, n], spatial {k = rows 4, m = cols 4}

// A second accel-map keeps existing mappings, unless force.
// FORCE:      %y = accel.conv2d {{.*}} mapping = #accel.mapping<os,
// FORCE:      %z = accel.matmul {{.*}} mapping = #accel.mapping<os,
