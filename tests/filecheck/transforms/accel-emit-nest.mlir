// The accel.tiled body is the program: accel-emit lowers the loop nest as written. Three copies
// of one matmul (m 64, n 48, k 32) differ only in their hand-written bodies: /mn loops m outside
// n, /nm the interchange (n outside m, the loads moved with their loops), /mn16 the first with
// an m tile of 16. tests/compiler/test_ir_is_the_program.py simulates this file and checks each
// layer's DRAM bytes against the cost model for the order and tiles its body spells.
// RUN: accelflow-opt %s -p 'accel-emit' | filecheck %s
// RUN: accelflow-opt %s -p 'accel-emit,accel-isa-verify' | filecheck %s --check-prefix=COUNT

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%a: tensor<64x32xf32>, %b: tensor<32x48xf32>) -> (tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>) {
    %mn = accel.tiled "matmul" %a, %b attributes {layer_name = "/mn", dims = {g = 1 : i64, m = 64 : i64, n = 48 : i64, k = 32 : i64}, geometry = {}, mapping = #accel.mapping<ws, spatial {k = rows 4, n = cols 4}>} : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32> {
      accel.tile_for "m" tile 8 extent 64 {
        accel.tile_load "input" double_buffer = true
        accel.tile_for "n" tile 8 extent 48 {
          accel.tile_load "weight" double_buffer = true
          accel.tile_compute
          accel.tile_store "output" double_buffer = true
        }
      }
    }
    %nm = accel.tiled "matmul" %a, %b attributes {layer_name = "/nm", dims = {g = 1 : i64, m = 64 : i64, n = 48 : i64, k = 32 : i64}, geometry = {}, mapping = #accel.mapping<ws, spatial {k = rows 4, n = cols 4}>} : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32> {
      accel.tile_for "n" tile 8 extent 48 {
        accel.tile_load "weight" double_buffer = true
        accel.tile_for "m" tile 8 extent 64 {
          accel.tile_load "input" double_buffer = true
          accel.tile_compute
          accel.tile_store "output" double_buffer = true
        }
      }
    }
    %mn16 = accel.tiled "matmul" %a, %b attributes {layer_name = "/mn16", dims = {g = 1 : i64, m = 64 : i64, n = 48 : i64, k = 32 : i64}, geometry = {}, mapping = #accel.mapping<ws, spatial {k = rows 4, n = cols 4}>} : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32> {
      accel.tile_for "m" tile 16 extent 64 {
        accel.tile_load "input" double_buffer = true
        accel.tile_for "n" tile 8 extent 48 {
          accel.tile_load "weight" double_buffer = true
          accel.tile_compute
          accel.tile_store "output" double_buffer = true
        }
      }
    }
    func.return %mn, %nm, %mn16 : tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>
  }
}

// m outside n: one input tile per m tile, reused across the n loop; a weight tile per iteration.
// The lowered layer carries the complete mapping its body implements.
// CHECK:      %mn = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/mn"
// CHECK-SAME:   mapping = #accel.mapping<ws, tiles {g = 1, m = 8, n = 8, k = 32}, order [m, n, g, k]
// CHECK-NOT:    tiles
// CHECK:        accel_isa.config "ws"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 256 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.load "weight"[0] bytes 256 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 8, 8, 32] at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.load "weight"[1] bytes 256 at [0, 0, 8, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.store[0] bytes 64 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.compute in[0] w[1] out[1] acc false gemm [1, 8, 8, 32] at [0, 0, 8, 0] size [1, 8, 8, 32]
// The interchange: one weight tile per n tile, an input tile per iteration.
// CHECK:      %nm = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/nm"
// CHECK-SAME:   order [n, m, g, k]
// CHECK:        accel_isa.config "ws"
// CHECK-NEXT:   accel_isa.load "input"[0] bytes 256 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.load "weight"[0] bytes 256 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 8, 8, 32] at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.load "input"[1] bytes 256 at [0, 8, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.store[0] bytes 64 at [0, 0, 0, 0] size [1, 8, 8, 32]
// CHECK-NEXT:   accel_isa.compute in[1] w[0] out[1] acc false gemm [1, 8, 8, 32] at [0, 8, 0, 0] size [1, 8, 8, 32]
// The m tile of 16 is the program's m tile.
// CHECK:      %mn16 = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/mn16"
// CHECK-SAME:   tiles {g = 1, m = 16, n = 8, k = 32}
// CHECK:        accel_isa.load "input"[0] bytes 512 at [0, 0, 0, 0] size [1, 16, 8, 32]
// CHECK:        accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 16, 8, 32] at [0, 0, 0, 0] size [1, 16, 8, 32]

// Weight loads: one per iteration (48) with m outside n, one per n tile (6) after the interchange.
// COUNT-LABEL:  layer_name = "/mn"
// COUNT-COUNT-48: accel_isa.load "weight"
// COUNT-NOT:      accel_isa.load "weight"
// COUNT-LABEL:  layer_name = "/nm"
// COUNT-COUNT-6:  accel_isa.load "weight"
// COUNT-NOT:      accel_isa.load "weight"
// COUNT-LABEL:  layer_name = "/mn16"
