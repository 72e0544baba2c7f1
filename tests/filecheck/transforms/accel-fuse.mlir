// RUN: accelflow-opt %s -p accel-fuse | filecheck %s
// RUN: accelflow-opt %s -p accel-fuse,accel-fuse | filecheck %s

// A scale, a residual Add and a Relu after a conv: all three run in the conv's output stage.
// The residual %r is the Add's other operand (read from DRAM); the Add reads the Mul's result.
// CHECK-LABEL: func.func @chain
// CHECK:       %c = accel.conv2d
// CHECK-NEXT:  %s = accel.constant
// CHECK-NEXT:  %m = accel.host "Mul" %c, %s {layer_name = "scale", fused_into = "conv"}
// CHECK-NEXT:  %a = accel.host "Add" %r, %m {layer_name = "residual", fused_into = "conv"}
// CHECK-NEXT:  %y = accel.host "Relu" %a {layer_name = "relu", fused_into = "conv"}

// The conv's output is also returned: it must reach DRAM as it is, so the Relu runs alone.
// CHECK-LABEL: func.func @two_uses
// CHECK:       accel.host "Relu" %c {layer_name = "relu"} :

// Pooling is not element-wise, and the Relu after it has no accelerator layer before it.
// CHECK-LABEL: func.func @window
// CHECK:       accel.host "MaxPool" %c {{.*}}layer_name = "pool"} :
// CHECK-NEXT:  accel.host "Relu" %p {layer_name = "relu"} :

// Two convs, then an Add of both: it fuses into the second (the op just before it) and reads
// the first's output from DRAM. The Relu on the first conv cannot fuse: not adjacent to it.
// CHECK-LABEL: func.func @siblings
// CHECK:       %a = accel.host "Add" %c1, %c2 {layer_name = "add", fused_into = "conv2"}

// A broadcast that grows the result, and a comparison (i1 result): neither fuses.
// CHECK-LABEL: func.func @shape_and_type
// CHECK:       accel.host "Add" %c, %x {layer_name = "grow"} :
// CHECK:       accel.host "Greater" %c2, %z {layer_name = "cmp"} :
// CHECK-NOT:   fused_into

// A view that keeps every element (a 1-D conv's Squeeze) runs in the output stage too, and the
// Relu after it then fuses; a Transpose (a copy) does not, nor what follows it.
// CHECK-LABEL: func.func @views
// CHECK:       %q = accel.host "Squeeze" %c {axes = array<i64: 2>, layer_name = "squeeze", fused_into = "conv"}
// CHECK-NEXT:  %y = accel.host "Relu" %q {layer_name = "relu", fused_into = "conv"}
// CHECK:       %t = accel.host "Transpose" %c2 {perm = array<i64: 0, 2, 1, 3>, layer_name = "t"} :
// CHECK-NEXT:  %z = accel.host "Relu" %t {layer_name = "relu2"} :

builtin.module attributes {accel.target = #accel.target<"small", {arch = "systolic", rows = 8, cols = 8}>} {
  func.func @chain(%x: tensor<1x4x8x8xf32>, %r: tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32> {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %s = accel.constant {tensor_name = "s", value = dense<2.0> : tensor<8x1x1xf32>} : tensor<8x1x1xf32>
    %m = accel.host "Mul" %c, %s {layer_name = "scale"} : (tensor<1x8x8x8xf32>, tensor<8x1x1xf32>) -> tensor<1x8x8x8xf32>
    %a = accel.host "Add" %r, %m {layer_name = "residual"} : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    %y = accel.host "Relu" %a {layer_name = "relu"} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    func.return %y : tensor<1x8x8x8xf32>
  }
  func.func @two_uses(%x: tensor<1x4x8x8xf32>) -> (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %y = accel.host "Relu" %c {layer_name = "relu"} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    func.return %c, %y : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>
  }
  func.func @window(%x: tensor<1x4x8x8xf32>) -> tensor<1x8x4x4xf32> {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %p = accel.host "MaxPool" %c {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, layer_name = "pool"} : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
    %y = accel.host "Relu" %p {layer_name = "relu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
    func.return %y : tensor<1x8x4x4xf32>
  }
  func.func @siblings(%x: tensor<1x4x8x8xf32>) -> (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c1 = accel.conv2d %x, %w {layer_name = "conv1", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %c2 = accel.conv2d %x, %w {layer_name = "conv2", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
    %a = accel.host "Add" %c1, %c2 {layer_name = "add"} : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    %y = accel.host "Relu" %c1 {layer_name = "relu"} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    func.return %a, %y : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>
  }
  func.func @shape_and_type(%x: tensor<1x8x4x4xf32>, %z: tensor<f32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x1x1xi1>) {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x8x4x4xf32>} : tensor<8x8x4x4xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<8x8x4x4xf32>) -> tensor<1x8x1x1xf32>
    %g = accel.host "Add" %c, %x {layer_name = "grow"} : (tensor<1x8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
    %c2 = accel.conv2d %x, %w {layer_name = "conv2", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<8x8x4x4xf32>) -> tensor<1x8x1x1xf32>
    %b = accel.host "Greater" %c2, %z {layer_name = "cmp"} : (tensor<1x8x1x1xf32>, tensor<f32>) -> tensor<1x8x1x1xi1>
    func.return %g, %b : tensor<1x8x4x4xf32>, tensor<1x8x1x1xi1>
  }
  func.func @views(%x: tensor<1x4x1x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x1x8x8xf32>) {
    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<8x4x1x1xf32>} : tensor<8x4x1x1xf32>
    %c = accel.conv2d %x, %w {layer_name = "conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x1x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x1x8xf32>
    %q = accel.host "Squeeze" %c {axes = array<i64: 2>, layer_name = "squeeze"} : (tensor<1x8x1x8xf32>) -> tensor<1x8x8xf32>
    %y = accel.host "Relu" %q {layer_name = "relu"} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
    %c2 = accel.conv2d %x, %w {layer_name = "conv2", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x1x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x1x8xf32>
    %t = accel.host "Transpose" %c2 {perm = array<i64: 0, 2, 1, 3>, layer_name = "t"} : (tensor<1x8x1x8xf32>) -> tensor<1x1x8x8xf32>
    %z = accel.host "Relu" %t {layer_name = "relu2"} : (tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32>
    func.return %y, %z : tensor<1x8x8xf32>, tensor<1x1x8x8xf32>
  }
}
