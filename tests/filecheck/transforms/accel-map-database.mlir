// A mapping database (`accel.mappings`, set by compile_module(mappings=...)) wins over the
// default heuristic for the layers it names, unless dataflow/order options are given.
// RUN: accelflow-opt %s -p 'accel-map' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map{dataflow=ws}' | filecheck %s --check-prefix=OPTION

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4}>, accel.mappings = {"/fc" = #accel.mapping<os, tiles {g = 1, m = 2, n = 12, k = 16}, order [g, m, n, k], spatial {m = rows 4, n = cols 4}, single_buffer, directives "TemporalMap(1,1) G; SpatialMap(1,1) M; SpatialMap(1,1) N; TemporalMap(16,16) K">}} {
  func.func @main(%a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> tensor<6x12xf32> {
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %z : tensor<6x12xf32>
  }
}

// CHECK:  %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<os, tiles {g = 1, m = 2, n = 12, k = 16}, order [g, m, n, k], spatial {m = rows 4, n = cols 4}, single_buffer, directives "TemporalMap(1,1) G; SpatialMap(1,1) M; SpatialMap(1,1) N; TemporalMap(16,16) K">}

// OPTION: %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<ws, tiles {g = 1, m = 6, n = 12, k = 32}, order [g, n, k, m]
