// RUN: accelflow-opt %s -p accel-fuse | filecheck %s

// A target with `vector_fusion = false` (or `host_ops = "host"`) fuses nothing.
// CHECK:     accel.host "Relu" %c {layer_name = "relu"} :
// CHECK-NOT: fused_into

builtin.module attributes {accel.target = #accel.target<"no-fusion", {arch = "systolic", rows = 8, cols = 8, vector_fusion = false}>} {
  func.func @main(%x: tensor<1x4x8x8xf32>) -> tensor<1x8x8x8xf32> {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %y = accel.host "Relu" %c {layer_name = "relu"} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    func.return %y : tensor<1x8x8x8xf32>
  }
}
