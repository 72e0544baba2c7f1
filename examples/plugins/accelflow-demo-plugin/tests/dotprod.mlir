// RUN: accelflow-opt %s -p 'accel-map,accel-tile,accel-emit,accel-isa-verify' | filecheck %s
// RUN: sed 's/lanes = 4/lanes = 3/' %s | not accelflow-opt -p accel-map 2>&1 | filecheck %s --check-prefix=BAD
// RUN: sed 's/"dotprod"/"systolic"/' %s | not accelflow-opt -p accel-map 2>&1 | filecheck %s --check-prefix=OTHER

// A target of the plugin's accelerator family, with its own fields (lanes, vector_width), runs
// through accelflow's passes unchanged: one tile (the buffers hold the layer), dataflow ws.
builtin.module attributes {accel.target = #accel.target<"dp", {arch = "dotprod", lanes = 4, vector_width = 8, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%a: tensor<6x32xf32>, %b: tensor<32x12xf32>) -> tensor<6x12xf32> {
    %z = accel.matmul %a, %b {layer_name = "/fc"} : (tensor<6x32xf32>, tensor<32x12xf32>) -> tensor<6x12xf32>
    func.return %z : tensor<6x12xf32>
  }
}

// CHECK:      accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc", {{.*}} mapping = #accel.mapping<ws, tiles {g = 1, m = 6, n = 12, k = 32}
// CHECK-NEXT:   accel_isa.config "ws"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 192
// CHECK-NEXT:   accel_isa.load "weight"[0] bytes 384
// CHECK-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 6, 12, 32]
// CHECK-NEXT:   accel_isa.store[0] bytes 72

// The family's own fields are validated by its model, and belong to its targets only.
// BAD:        accelflow-opt: error: #accel.target<"dp">: invalid target field 'lanes' = 3: Value error, must be a power of two
// OTHER:      accelflow-opt: error: #accel.target<"dp">: unknown target field 'lanes' for a systolic target; it is a field of dotprod targets
