// An illegal mapping from the database is rejected by accel-map.
// RUN: not accelflow-opt %s -p 'accel-map' 2>&1 | filecheck %s --check-prefix=BAD

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4}>, accel.mappings = {"/fc" = #accel.mapping<os, tiles {g = 1, m = 2, n = 12, k = 64}, order [g, m, n, k], spatial {m = rows 4, n = cols 4}, single_buffer, directives "TemporalMap(1,1) G; SpatialMap(1,1) M; SpatialMap(1,1) N; TemporalMap(64,64) K">}} {
  func.func @main(%a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> tensor<6x12xf32> {
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %z : tensor<6x12xf32>
  }
}

// The database tile k = 64 is beyond the layer's extent 32: accel-map rejects it, naming the layer.
// BAD: MappingError: layer '/fc': tile k=64 is outside [1, 32]
