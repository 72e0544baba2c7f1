// An illegal mapping from the database is rejected by accel-map.
// RUN: not accelflow-opt %s -p 'accel-map' 2>&1 | filecheck %s --check-prefix=BAD

builtin.module attributes {accel.target = #accel.target<{name = "tiny", rows = 4 : i64, cols = 4 : i64}>, accel.mappings = {"/fc" = #accel.mapping<os, {tiles = {g = 1 : i64, m = 2 : i64, n = 12 : i64, k = 64 : i64}, order = ["g", "m", "n", "k"], spatial = {m = ["rows", 4 : i64], n = ["cols", 4 : i64]}, double_buffer = false}>}} {
  func.func @main(%a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> tensor<6x12xf32> {
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %z : tensor<6x12xf32>
  }
}

// The database tile k = 64 is beyond the layer's extent 32: accel-map rejects it, naming the layer.
// BAD: MappingError: layer '/fc': tile k=64 is outside [1, 32]
