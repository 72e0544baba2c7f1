// A mapping database (`accel.mappings`, set by compile_module(mappings=...)) wins over the
// default heuristic for the layers it names, unless dataflow/order options are given.
// RUN: accelflow-opt %s -p 'accel-map' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-map{dataflow=ws}' | filecheck %s --check-prefix=OPTION

builtin.module attributes {accel.target = #accel.target<{name = "tiny", rows = 4 : i64, cols = 4 : i64}>, accel.mappings = {"/fc" = #accel.mapping<os, {tiles = {g = 1 : i64, m = 2 : i64, n = 12 : i64, k = 16 : i64}, order = ["g", "m", "n", "k"], spatial = {m = ["rows", 4 : i64], n = ["cols", 4 : i64]}, double_buffer = false}>}} {
  func.func @main(%a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> tensor<6x12xf32> {
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %z : tensor<6x12xf32>
  }
}

// CHECK:  %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<os, {tiles = {g = 1 : i64, m = 2 : i64, n = 12 : i64, k = 16 : i64}, order = ["g", "m", "n", "k"], spatial = {m = ["rows", 4 : i64], n = ["cols", 4 : i64]}, double_buffer = false, directives = "TemporalMap(1,1) G; SpatialMap(1,1) M; SpatialMap(1,1) N; TemporalMap(16,16) K"}>}

// OPTION: %z = accel.matmul %a, %b {layer_name = "/fc", mapping = #accel.mapping<ws, {tiles = {g = 1 : i64, m = 6 : i64, n = 12 : i64, k = 32 : i64}, order = ["g", "n", "k", "m"]
