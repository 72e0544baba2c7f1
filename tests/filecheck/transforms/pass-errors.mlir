// User errors end the pass with a one-line AccelflowError naming the layer or the option.
// RUN: not accelflow-opt %s -p 'accel-map{dataflow=xs}' 2>&1 | filecheck %s --check-prefix=DATAFLOW
// RUN: not accelflow-opt %s -p 'accel-map{order=abc}' 2>&1 | filecheck %s --check-prefix=ORDER
// RUN: not accelflow-opt %s -p 'accel-tile{double-buffer=maybe}' 2>&1 | filecheck %s --check-prefix=DB
// RUN: not accelflow-opt %s -p 'accel-tile{tile-c=8 tile-r=3 tile-s=3 tile-y=12 tile-x=12}' 2>&1 | filecheck %s --check-prefix=FIT
// RUN: not accelflow-opt %s -p 'onnx-to-accel' 2>&1 | filecheck %s --check-prefix=AUTOPAD

builtin.module attributes {accel.target = #accel.target<"tiny", {rows = 4, cols = 4, ifmap_sram_kib = 1.0, filter_sram_kib = 1.0, ofmap_sram_kib = 1.0}>} {
  func.func @main(%x: tensor<1x8x12x12xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32> {
    %y = accel.conv2d %x, %w {layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    %z = onnx.Conv %x, %w {onnx_name = "/bad", onnx_outputs = ["z"], auto_pad = "SAME_WRONG"} : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    func.return %y : tensor<1x16x12x12xf32>
  }
}

// DATAFLOW: PassError: accel-map: unknown dataflow 'xs' (expected one of ws, os, is)
// ORDER:    PassError: loop order 'abc' is not a permutation of the conv2d dims (ngkcyxrs) nor of the matmul dims (gmnk)
// DB:       PassError: accel-tile: double-buffer='maybe' (expected auto, on or off)
// FIT:      MappingError: layer '/conv': input tile needs 1568 B but the input buffer holds 1024 B even with the smallest tiles
// AUTOPAD:  UnsupportedNodeError: Conv '/bad': auto_pad 'SAME_WRONG' is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)
