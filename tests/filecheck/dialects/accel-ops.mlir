// RUN: accelflow-opt %s | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | accelflow-opt | filecheck %s
// RUN: accelflow-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

builtin.module attributes {accel.target = #accel.target<"t", {rows = 4, double_buffer = true, ifmap_sram_kib = 1.5}>} {
  func.func @main(%x: tensor<1x2x4x4xf32>, %a: tensor<3x2xf32>) -> (tensor<1x2x4x4xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<1x2x4x4xf32>) {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32>
    %b = accel.constant {tensor_name = "b", value = dense<[0.5, -0.5]> : tensor<2xf32>} : tensor<2xf32>
    %s = accel.constant {tensor_name = "shape", value = dense<[3, 2]> : tensor<2xi64>} : tensor<2xi64>
    %y = accel.conv2d %x, %w, %b {onnx_outputs = ["y"], layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, mapping = #accel.mapping<ws, tiles {n = 1}, order [n], single_buffer, directives "TemporalMap(1,1) N">} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
    %m = accel.constant {tensor_name = "m", value = dense<1.0> : tensor<2x2xf32>} : tensor<2x2xf32>
    %z = accel.matmul %a, %m {layer_name = "/mm"} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
    %h = accel.host "Relu" %z {onnx_outputs = ["h"], layer_name = "/relu"} : (tensor<3x2xf32>) -> tensor<3x2xf32>
    %t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/tiled", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
      accel.tile_load "weight" double_buffer = true
      accel.tile_for "y" tile 2 extent 4 {
        accel.tile_load "input" double_buffer = true
        accel.tile_compute
        accel.tile_store "output" double_buffer = true
      }
    }
    func.return %y, %z, %h, %t : tensor<1x2x4x4xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<1x2x4x4xf32>
  }
}

// CHECK:      builtin.module attributes {accel.target = #accel.target<"t", {rows = 4, double_buffer = true, ifmap_sram_kib = 1.5}>} {
// CHECK:        %w = accel.constant {tensor_name = "w", value = dense<1.000000e+00> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32>
// CHECK-NEXT:   %b = accel.constant {tensor_name = "b", value = dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>} : tensor<2xf32>
// CHECK-NEXT:   %s = accel.constant {tensor_name = "shape", value = dense<[3, 2]> : tensor<2xi64>} : tensor<2xi64>
// CHECK-NEXT:   %y = accel.conv2d %x, %w, %b {onnx_outputs = ["y"], layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, mapping = #accel.mapping<ws, tiles {n = 1}, order [n], single_buffer, directives "TemporalMap(1,1) N">} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:   %m = accel.constant
// CHECK-NEXT:   %z = accel.matmul %a, %m {layer_name = "/mm"} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:   %h = accel.host "Relu" %z {onnx_outputs = ["h"], layer_name = "/relu"} : (tensor<3x2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:   %t = accel.tiled "conv2d" %x, %w attributes {layer_name = "/tiled", dims = {n = 1 : i64, g = 1 : i64, k = 2 : i64, c = 2 : i64, y = 4 : i64, x = 4 : i64, r = 1 : i64, s = 1 : i64}, geometry = {strides = [1 : i64, 1 : i64], pads = [0 : i64, 0 : i64, 0 : i64, 0 : i64], dilations = [1 : i64, 1 : i64], group = 1 : i64}, mapping = #accel.mapping<os>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
// CHECK-NEXT:     accel.tile_load "weight" double_buffer = true
// CHECK-NEXT:     accel.tile_for "y" tile 2 extent 4 {
// CHECK-NEXT:       accel.tile_load "input" double_buffer = true
// CHECK-NEXT:       accel.tile_compute
// CHECK-NEXT:       accel.tile_store "output" double_buffer = true
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return %y, %z, %h, %t

// GENERIC:      "accel.constant"() <{tensor_name = "w", value = dense<1.000000e+00> : tensor<2x2x1x1xf32>}> : () -> tensor<2x2x1x1xf32>
// GENERIC:      "accel.conv2d"(%{{.*}}, %{{.*}}, %{{.*}}) <{layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, mapping = #accel.mapping<ws, tiles {n = 1}, order [n], single_buffer, directives "TemporalMap(1,1) N">}> {onnx_outputs = ["y"]}
// GENERIC:      "accel.matmul"(%{{.*}}, %{{.*}}) <{layer_name = "/mm"}>
// GENERIC:      "accel.host"(%{{.*}}) <{op_type = "Relu", layer_name = "/relu"}> {onnx_outputs = ["h"]}
// GENERIC:      "accel.tiled"(%{{.*}}, %{{.*}}) <{kind = "conv2d", layer_name = "/tiled",
// GENERIC:        "accel.tile_load"() <{operand = "weight", double_buffer = true}> : () -> ()
// GENERIC-NEXT:   "accel.tile_for"() <{dim = "y", tile = 2 : i64, extent = 4 : i64}> ({
// GENERIC-NEXT:     "accel.tile_load"() <{operand = "input", double_buffer = true}> : () -> ()
// GENERIC-NEXT:     "accel.tile_compute"() : () -> ()
// GENERIC-NEXT:     "accel.tile_store"() <{operand = "output", double_buffer = true}> : () -> ()
