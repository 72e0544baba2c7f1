// A tiled body whose weight load was deleted is not a program: accel-emit names the layer and
// the op (and accelflow-opt exits 2, tests/compiler/test_ir_is_the_program.py).
// RUN: not accelflow-opt %s -p 'accel-emit' 2>&1 | filecheck %s

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%a: tensor<64x32xf32>, %b: tensor<32x48xf32>) -> tensor<64x48xf32> {
    %mn = accel.tiled "matmul" %a, %b attributes {layer_name = "/mn", dims = {g = 1 : i64, m = 64 : i64, n = 48 : i64, k = 32 : i64}, geometry = {}, mapping = #accel.mapping<ws>} : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32> {
      accel.tile_for "m" tile 8 extent 64 {
        accel.tile_load "input" double_buffer = true
        accel.tile_for "n" tile 8 extent 48 {
          accel.tile_compute
          accel.tile_store "output" double_buffer = true
        }
      }
    }
    func.return %mn : tensor<64x48xf32>
  }
}

// CHECK: PassError: accel-emit: layer '/mn': accel.tile_compute reads the weight tile, but no accel.tile_load "weight" fills its buffer
