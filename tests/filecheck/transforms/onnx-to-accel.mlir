// RUN: accelflow-opt %s -p 'onnx-to-accel{target=tpu-like-small}' | filecheck %s

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
