// RUN: accelflow-opt %s -p 'accel-map,demo-force-dataflow{dataflow=os}' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map,demo-force-dataflow{dataflow=is layer="/fc"}' | filecheck %s --check-prefix=ONE
// RUN: accelflow-opt %s -p 'demo-force-dataflow' | filecheck %s --check-prefix=UNMAPPED
// RUN: not accelflow-opt %s -p 'accel-map,demo-force-dataflow{dataflow=xs}' 2>&1 | filecheck %s --check-prefix=BAD

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%x: tensor<1x8x12x12xf32>, %w: tensor<16x8x3x3xf32>, %a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> (tensor<1x16x12x12xf32>, tensor<6x12xf32>) {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %y, %z : tensor<1x16x12x12xf32>, tensor<6x12xf32>
  }
}

// accel-map gives ws (the target's); the plugin switches to os, keeping tiles and loop order,
// with the spatial unroll os implies on the 4x4 array (y and k for a conv, m and n for a matmul).
// CHECK:      %y = accel.conv2d %x, %w {layer_name = "/conv", {{.*}}, mapping = #accel.mapping<os, tiles {n = 1, g = 1, k = 4, c = 8, y = 6, x = 6, r = 3, s = 3},
// CHECK-SAME:   order [g, k, c, r, s, n, y, x], spatial {y = rows 4, k = cols 4}, double_buffer,
// CHECK-SAME:   directives "TemporalMap(1,1) G; SpatialMap(1,1) K; TemporalMap(8,8) C; TemporalMap(3,3) R; TemporalMap(3,3) S; TemporalMap(1,1) N; SpatialMap(1,1) Y; TemporalMap(6,6) X">}
// CHECK:      %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<os, tiles {g = 1, m = 6, n = 12, k = 32}, order [g, n, k, m], spatial {m = rows 4, n = cols 4}, double_buffer

// Only the named layer; the other keeps accel-map's ws.
// ONE:        %y = accel.conv2d {{.*}} mapping = #accel.mapping<ws,
// ONE:        %z = accel.matmul {{.*}} mapping = #accel.mapping<is, tiles {g = 1, m = 6, n = 12, k = 32}, order [g, n, k, m], spatial {k = rows 4, m = cols 4}

// Layers without a mapping are left alone.
// UNMAPPED:       %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} :
// UNMAPPED-NEXT:  %z = accel.matmul %a, %b {layer_name = "/fc"} :

// BAD:        accelflow-opt: error: demo-force-dataflow: unknown dataflow 'xs' (expected one of ws, os, is)
