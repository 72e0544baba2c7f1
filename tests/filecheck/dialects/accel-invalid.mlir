// RUN: accelflow-opt %s --split-input-file --verify-diagnostics | filecheck %s

%x, %w = "test.op"() : () -> (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>)
%y = accel.conv2d %x, %w {layer_name = "/c", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
// CHECK: Operation does not verify: conv2d '/c': 3 input channels and weight [4, 2, 3, 3] do not match group 1

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32>)
%y = accel.conv2d %x, %w {layer_name = "/c", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x8x8xf32>
// CHECK: Operation does not verify: conv2d '/c': result shape [1, 4, 8, 8], expected [1, 4, 6, 6]

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32>)
%y = accel.conv2d %x, %w {layer_name = "/c", strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
// CHECK: Operation does not verify: conv2d '/c': strides and dilations >= 1, pads >= 0

// -----

%a, %b = "test.op"() : () -> (tensor<3x4xf32>, tensor<5x2xf32>)
%y = accel.matmul %a, %b {layer_name = "/m"} : (tensor<3x4xf32>, tensor<5x2xf32>) -> tensor<3x2xf32>
// CHECK: Operation does not verify: matmul '/m': a [3, 4] and b [5, 2] disagree on K

// -----

%a, %b, %bias = "test.op"() : () -> (tensor<3x4xf32>, tensor<4x2xf32>, tensor<3xf32>)
%y = accel.matmul %a, %b, %bias {layer_name = "/m"} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<3xf32>) -> tensor<3x2xf32>
// CHECK: Operation does not verify: matmul '/m': bias must have shape [2]

// -----

%c = accel.constant {tensor_name = "c", value = dense<1.0> : tensor<2xf32>} : tensor<3xf32>
// CHECK: Operation does not verify: constant 'c': value type tensor<2xf32> differs from result type tensor<3xf32>

// -----

"test.op"() {m = #accel.mapping<xs>} : () -> ()
// CHECK: unknown dataflow 'xs' (expected one of ws, os, is)

// -----

accel.tile_for "k" tile 5 extent 4 {
  accel.tile_compute
}
// CHECK: Operation does not verify: tile 5 of dimension 'k' is outside [1, 4]

// -----

accel.tile_load "bias" double_buffer = true
// CHECK: Operation does not verify: unknown operand 'bias' (expected one of input, weight, output)

// -----

accel.tile_store "weights" double_buffer = true
// CHECK: Operation does not verify: unknown operand 'weights' (expected one of input, weight, output)

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "pool" %x, %w attributes {layer_name = "/t", dims = {}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_compute
}
// CHECK: Operation does not verify: accel.tiled: unknown layer kind 'pool'

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  "test.op"() : () -> ()
}
// CHECK: Operation does not verify: accel.tiled '/t': test.op in its body

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_for "y" tile 2 extent 4 {
    accel.tile_compute
    accel.tile_load "input" double_buffer = true
  }
}
// CHECK: Operation does not verify: accel.tiled '/t': accel.tile_load "input" after the loop or compute that reads it

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_store "output" double_buffer = true
  accel.tile_compute
}
// CHECK: Operation does not verify: accel.tiled '/t': accel.tile_store before the loop or compute that writes it

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_compute
  accel.tile_compute
}
// CHECK: Operation does not verify: accel.tiled '/t': a loop body holds 2 loops/computes; the nest is perfect: one accel.tile_for or accel.tile_compute per body, loads before it, stores after it

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_for "m" tile 2 extent 4 {
    accel.tile_compute
  }
}
// CHECK: Operation does not verify: accel.tiled '/t': accel.tile_for "m": the layer has no dim 'm' (n g k c y x r s)

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_for "y" tile 2 extent 5 {
    accel.tile_compute
  }
}
// CHECK: Operation does not verify: accel.tiled '/t': accel.tile_for "y" has extent 5, the layer's y is 4

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_for "y" tile 2 extent 4 {
    accel.tile_for "y" tile 1 extent 4 {
      accel.tile_compute
    }
  }
}
// CHECK: Operation does not verify: accel.tiled '/t': accel.tile_for "y" inside another loop over 'y' (tiles must cover the layer exactly once)

// -----

%x, %w = "test.op"() : () -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>)
%t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/t", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {}, mapping = #accel.mapping<os, tiles {y = 2}>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  accel.tile_compute
}
// CHECK: Operation does not verify: accel.tiled '/t': its #accel.mapping keeps only the dataflow and spatial; 'tiles' is spelled by the body (edit its accel.tile_for / tile_load / tile_store ops)
