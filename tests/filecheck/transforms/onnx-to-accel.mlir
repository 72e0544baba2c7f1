// RUN: accelflow-opt %s -p 'onnx-to-accel{target=tpu-like-small}' | filecheck %s
// CHECK:      builtin.module attributes {accel.target = #accel.target<"tpu-like-small", {arch = "systolic", rows = 8, cols = 8, dataflow = "ws"
// CHECK-LABEL: func.func @main
// CHECK-NEXT:   %0 = accel.constant {value = dense<[[[[1.000000e+00]]], [[[4.000000e+00]]]]> : tensor<2x1x1x1xf32>, tensor_name = "/bn/BN/folded_weight"} : tensor<2x1x1x1xf32>
// CHECK-NEXT:   %1 = accel.constant {value = dense<[-4.000000e-01, -8.000000e-01]> : tensor<2xf32>, tensor_name = "/bn/BN/folded_bias"} : tensor<2xf32>
// CHECK-NEXT:   %bn = accel.conv2d %x, %0, %1 {onnx_outputs = ["y"], layer_name = "/conv/Conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:   func.return %bn : tensor<1x2x4x4xf32>

// A conv followed by an inference BatchNormalization (folded, epsilon 0 for round numbers):
// factor = scale / sqrt(var) = [2/2, 1/0.5] = [1, 2]; w' = w * factor = [1, 4];
// b' = (b - mean) * factor + beta = [(0.5 - 1) * 1 + 0.1, (-0.5 - 0) * 2 + 0.2] = [-0.4, -0.8].
func.func @main(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> attributes {onnx.input_names = ["x"], onnx.output_names = ["y"]} {
  %w = onnx.Constant {onnx_name = "w", onnx_outputs = ["w"], value = dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>} : () -> tensor<2x1x1x1xf32>
  %b = onnx.Constant {onnx_name = "b", onnx_outputs = ["b"], value = dense<[0.5, -0.5]> : tensor<2xf32>} : () -> tensor<2xf32>
  %c = onnx.Conv %x, %w, %b {onnx_name = "/conv/Conv", onnx_outputs = ["/conv/Conv_output_0"], kernel_shape = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %scale = onnx.Constant {onnx_name = "scale", onnx_outputs = ["scale"], value = dense<[2.0, 1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %beta = onnx.Constant {onnx_name = "beta", onnx_outputs = ["beta"], value = dense<[0.1, 0.2]> : tensor<2xf32>} : () -> tensor<2xf32>
  %mean = onnx.Constant {onnx_name = "mean", onnx_outputs = ["mean"], value = dense<[1.0, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %var = onnx.Constant {onnx_name = "var", onnx_outputs = ["var"], value = dense<[4.0, 0.25]> : tensor<2xf32>} : () -> tensor<2xf32>
  %bn = onnx.BatchNormalization %c, %scale, %beta, %mean, %var {onnx_name = "/bn/BN", onnx_outputs = ["y"], epsilon = 0.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  func.return %bn : tensor<1x2x4x4xf32>
}
// CHECK-LABEL: func.func @gemm_fold
// CHECK-NEXT:   %{{.*}} = accel.constant {value = dense<[[5.000000e-01, 2.000000e+00], [1.000000e+00, 2.500000e+00], [1.500000e+00, 3.000000e+00]]> : tensor<3x2xf32>, tensor_name = "/fc/Gemm/B"} : tensor<3x2xf32>
// CHECK-NEXT:   %[[BIAS:.*]] = accel.constant {value = dense<[2.000000e+00, -2.000000e+00]> : tensor<2xf32>, tensor_name = "/fc/Gemm/bias"} : tensor<2xf32>
// CHECK-NEXT:   %{{.*}} = accel.matmul %a, %{{.*}}, %[[BIAS]] {onnx_outputs = ["/fc/Gemm_output_0"], layer_name = "/fc/Gemm"} : (tensor<1x3xf32>, tensor<3x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:   func.return
// CHECK-NOT:   fc.weight

// Gemm with a constant B: transB and alpha fold into a new B (B^T * 0.5), beta into the bias (C * 2).
func.func @gemm_fold(%a: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %bw = onnx.Constant {onnx_name = "fc.weight", onnx_outputs = ["fc.weight"], value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %bc = onnx.Constant {onnx_name = "fc.bias", onnx_outputs = ["fc.bias"], value = dense<[1.0, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = onnx.Gemm %a, %bw, %bc {onnx_name = "/fc/Gemm", onnx_outputs = ["/fc/Gemm_output_0"], alpha = 0.5 : f32, beta = 2.0 : f32, transB = 1 : i64} : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL: func.func @gemm_host
// CHECK-NEXT:   %[[AT:.*]] = accel.host "Transpose" %a {perm = array<i64: 1, 0>, layer_name = "/g/transA"} : (tensor<3x2xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %[[BT:.*]] = accel.host "Transpose" %b {perm = array<i64: 1, 0>, layer_name = "/g/transB"} : (tensor<4x3xf32>) -> tensor<3x4xf32>
// CHECK-NEXT:   %[[ALPHA:.*]] = accel.constant {value = dense<2.000000e+00> : tensor<f32>, tensor_name = "/g/alpha"} : tensor<f32>
// CHECK-NEXT:   %[[AS:.*]] = accel.host "Mul" %[[AT]], %[[ALPHA]] {layer_name = "/g/alpha"} : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %[[BETA:.*]] = accel.constant {value = dense<3.000000e+00> : tensor<f32>, tensor_name = "/g/beta"} : tensor<f32>
// CHECK-NEXT:   %[[CS:.*]] = accel.host "Mul" %c, %[[BETA]] {layer_name = "/g/beta"} : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
// CHECK-NEXT:   %[[MM:.*]] = accel.matmul %[[AS]], %[[BT]] {layer_name = "/g"} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:   %[[Y:.*]] = accel.host "Add" %[[MM]], %[[CS]] {onnx_outputs = ["g_out"], layer_name = "/g/add"} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:   func.return %[[Y]] : tensor<2x4xf32>

// Gemm with computed operands: host Transpose for transA/transB, host Mul for alpha, and a
// 2-D C added after the matmul by a host Add (scaled by beta with a host Mul).
func.func @gemm_host(%a: tensor<3x2xf32>, %b: tensor<4x3xf32>, %c: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = onnx.Gemm %a, %b, %c {onnx_name = "/g", onnx_outputs = ["g_out"], alpha = 2.0 : f32, beta = 3.0 : f32, transA = 1 : i64, transB = 1 : i64} : (tensor<3x2xf32>, tensor<4x3xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK-LABEL: func.func @matmul
// CHECK-NEXT:   %y = accel.matmul %a, %b {onnx_outputs = ["mm_out"], layer_name = "/mm"} : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
// CHECK-NEXT:   %z = accel.host "MatMul" %a, %v {onnx_outputs = ["mv_out"], layer_name = "/mv"} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3xf32>

// MatMul: batched (rank 3 x rank 2) runs on the accelerator, rank 1 on the host.
func.func @matmul(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>, %v: tensor<4xf32>) -> (tensor<2x3x5xf32>, tensor<2x3xf32>) {
  %y = onnx.MatMul %a, %b {onnx_name = "/mm", onnx_outputs = ["mm_out"]} : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  %z = onnx.MatMul %a, %v {onnx_name = "/mv", onnx_outputs = ["mv_out"]} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  func.return %y, %z : tensor<2x3x5xf32>, tensor<2x3xf32>
}
// CHECK-LABEL: func.func @host
// CHECK-NEXT:   %w = accel.constant {value = dense<1.000000e+00> : tensor<4x1x3x3xf32>, tensor_name = "dw.weight"} : tensor<4x1x3x3xf32>
// CHECK-NEXT:   %none = onnx.NoValue
// CHECK-NEXT:   %c = accel.conv2d %x, %w {onnx_outputs = ["dw_out"], layer_name = "/dw", strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 2, 2>, group = 4 : i64} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x3x3xf32>
// CHECK-NEXT:   %r = accel.host "Relu" %c {onnx_outputs = ["relu_out"], layer_name = "/relu"} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
// CHECK-NEXT:   %s = accel.constant {value = dense<1.000000e+00> : tensor<4xf32>, tensor_name = "s"} : tensor<4xf32>
// CHECK-NEXT:   %bn = accel.host "BatchNormalization" %r, %s, %s, %s, %s {onnx_outputs = ["bn_out"], layer_name = "/bn"}
// CHECK-NEXT:   %p = accel.host "MaxPool" %bn {onnx_outputs = ["pool_out"], kernel_shape = array<i64: 1, 1>, strides = array<i64: 1, 1>, layer_name = "/pool"}

// Host ops keep their ONNX attributes; a Conv without bias (NoValue) and with stride / dilation /
// group; a BatchNormalization after a non-conv is a host op; NoValue stays.
func.func @host(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x3x3xf32> {
  %w = onnx.Constant {onnx_name = "dw.weight", onnx_outputs = ["dw.weight"], value = dense<1.0> : tensor<4x1x3x3xf32>} : () -> tensor<4x1x3x3xf32>
  %none = onnx.NoValue
  %c = onnx.Conv %x, %w, %none {onnx_name = "/dw", onnx_outputs = ["dw_out"], group = 4 : i64, strides = array<i64: 2, 2>, dilations = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>, none) -> tensor<1x4x3x3xf32>
  %r = onnx.Relu %c {onnx_name = "/relu", onnx_outputs = ["relu_out"]} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  %s = onnx.Constant {onnx_name = "s", onnx_outputs = ["s"], value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
  %bn = onnx.BatchNormalization %r, %s, %s, %s, %s {onnx_name = "/bn", onnx_outputs = ["bn_out"]} : (tensor<1x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  %p = onnx.MaxPool %bn {onnx_name = "/pool", onnx_outputs = ["pool_out"], kernel_shape = array<i64: 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  func.return %p : tensor<1x4x3x3xf32>
}
// CHECK-LABEL: func.func @conv1d
// CHECK-NEXT:   %[[W4:.*]] = accel.constant {value = dense<{{.*}}> : tensor<3x2x1x2xf32>, tensor_name = "/c1/weight"} : tensor<3x2x1x2xf32>
// CHECK-NEXT:   %[[X4:.*]] = accel.host "Unsqueeze" %x {axes = array<i64: 2>, layer_name = "/c1/unsqueeze"} : (tensor<1x2x8xf32>) -> tensor<1x2x1x8xf32>
// CHECK-NEXT:   %[[C:.*]] = accel.conv2d %[[X4]], %[[W4]] {layer_name = "/c1", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x1x8xf32>, tensor<3x2x1x2xf32>) -> tensor<1x3x1x8xf32>
// CHECK-NEXT:   %[[Y:.*]] = accel.host "Squeeze" %[[C]] {axes = array<i64: 2>, onnx_outputs = ["y1"], layer_name = "/c1/squeeze"} : (tensor<1x3x1x8xf32>) -> tensor<1x3x8xf32>
// CHECK-NEXT:   %[[W4B:.*]] = accel.host "Unsqueeze" %w2 {axes = array<i64: 2>, layer_name = "/c2/weight"} : (tensor<4x1x3xf32>) -> tensor<4x1x1x3xf32>
// CHECK-NEXT:   %[[X4B:.*]] = accel.host "Unsqueeze" %x {axes = array<i64: 2>, layer_name = "/c2/unsqueeze"} : (tensor<1x2x8xf32>) -> tensor<1x2x1x8xf32>
// CHECK-NEXT:   %[[C2:.*]] = accel.conv2d %[[X4B]], %[[W4B]] {layer_name = "/c2", strides = array<i64: 1, 1>, pads = array<i64: 0, 2, 0, 2>, dilations = array<i64: 1, 2>, group = 2 : i64} : (tensor<1x2x1x8xf32>, tensor<4x1x1x3xf32>) -> tensor<1x4x1x8xf32>
// CHECK-NEXT:   %[[Y2:.*]] = accel.host "Squeeze" %[[C2]] {axes = array<i64: 2>, onnx_outputs = ["y2"], layer_name = "/c2/squeeze"} : (tensor<1x4x1x8xf32>) -> tensor<1x4x8xf32>
// CHECK-NEXT:   func.return %[[Y]], %[[Y2]]

// A 1-D conv is a conv2d of height 1 between two views: SAME_UPPER pads (kernel 2: [0, 1]) on
// the width; a constant weight reshaped to [K, C, 1, S], a computed one unsqueezed like x.
func.func @conv1d(%x: tensor<1x2x8xf32>, %w2: tensor<4x1x3xf32>) -> (tensor<1x3x8xf32>, tensor<1x4x8xf32>) {
  %w = onnx.Constant {onnx_name = "w", onnx_outputs = ["w"], value = dense<[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]], [[9.0, 1.0], [2.0, 3.0]]]> : tensor<3x2x2xf32>} : () -> tensor<3x2x2xf32>
  %y1 = onnx.Conv %x, %w {onnx_name = "/c1", onnx_outputs = ["y1"], auto_pad = "SAME_UPPER"} : (tensor<1x2x8xf32>, tensor<3x2x2xf32>) -> tensor<1x3x8xf32>
  %y2 = onnx.Conv %x, %w2 {onnx_name = "/c2", onnx_outputs = ["y2"], group = 2 : i64, dilations = array<i64: 2>, pads = array<i64: 2, 2>} : (tensor<1x2x8xf32>, tensor<4x1x3xf32>) -> tensor<1x4x8xf32>
  func.return %y1, %y2 : tensor<1x3x8xf32>, tensor<1x4x8xf32>
}
