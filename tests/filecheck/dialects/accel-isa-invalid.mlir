// RUN: accelflow-opt %s --split-input-file --verify-diagnostics | filecheck %s

accel_isa.config "xs"
// CHECK: Operation does not verify: accel_isa.config: unknown dataflow 'xs' (expected one of ws, os, is)

// -----

accel_isa.load "bias"[0] bytes 4 at [0] size [1]
// CHECK: Operation does not verify: accel_isa.load: unknown buffer 'bias' (expected one of input, weight, output)

// -----

accel_isa.load "input"[2] bytes 4 at [0] size [1]
// CHECK: Operation does not verify: accel_isa.load: buffer slot 2 is not 0 or 1

// -----

accel_isa.load "input"[0] bytes 0 at [0] size [1]
// CHECK: Operation does not verify: accel_isa.load: bytes must be >= 1, got 0

// -----

accel_isa.store[0] bytes 4 at [0, 0] size [1]
// CHECK: Operation does not verify: accel_isa.store: offsets (2) and sizes (1) must have the same length, 1 to 8

// -----

accel_isa.store[0] bytes 4 at [-1] size [1]
// CHECK: Operation does not verify: accel_isa.store: offsets must be >= 0 and sizes >= 1

// -----

accel_isa.compute in[0] w[0] out[3] acc false gemm [1, 1, 1, 1] at [0] size [1]
// CHECK: Operation does not verify: accel_isa.compute: output slot 3 is not 0 or 1

// -----

accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 0, 1, 1] at [0] size [1]
// CHECK: Operation does not verify: accel_isa.compute: gemm must be [reps, m, n, k] with every value >= 1, got [1, 0, 1, 1]

// -----

accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1, 1, 1] at [0] size [1] sparse [1, 3, 1]
// CHECK: Operation does not verify: accel_isa.compute: sparse must be 10 values >= 0 [sg_iters, sg_fill, sg_col, sg_kreads, w_nnz, w_bitmap_bits, sg_fwd, sg_vns, sg_three, sg_rn], got [1, 3, 1]

// -----

%a, %b = "test.op"() : () -> (tensor<4x8xf32>, tensor<8x4xf32>)
%y = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc", dims = {}, geometry = {}, mapping = #accel.mapping<is>} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
  accel_isa.store[0] bytes 16 at [0, 0, 0, 0] size [1, 4, 4, 4]
}
// CHECK: Operation does not verify: accel_isa.layer '/fc': the program must start with config

// -----

%a, %b = "test.op"() : () -> (tensor<4x8xf32>, tensor<8x4xf32>)
%y = accel_isa.layer "matmul" %a, %b attributes {layer_name = "/fc", dims = {}, geometry = {}, mapping = #accel.mapping<is>} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
  accel_isa.config "is"
  accel_isa.store[0] bytes 16 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 4, 4, 4, 1, 1, 1, 1]
}
// CHECK: Operation does not verify: accel_isa.layer '/fc': accel_isa.store has 8 tile dims, a matmul has 4

// -----

%a, %b = "test.op"() : () -> (tensor<4x8xf32>, tensor<8x4xf32>)
%y = accel_isa.layer "pool" %a, %b attributes {layer_name = "/fc", dims = {}, geometry = {}, mapping = #accel.mapping<is>} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
  accel_isa.config "is"
}
// CHECK: Operation does not verify: accel_isa.layer '/fc': unknown kind 'pool'

// -----

accel_isa.config "os" spatial [1, 0, 8, 8]
// CHECK: Operation does not verify: accel_isa.config: spatial must be 1 to 8 factors >= 1, got [1, 0, 8, 8]

// -----

// The step costs are the simulator's to derive: a config does not carry them.
"accel_isa.config"() <{dataflow = "os", spatial = array<i64: 1, 1, 8, 8>, steps = array<i64: 8, 8, 1, 8, 1, 0>}> : () -> ()
// CHECK: Operation does not verify: property 'steps' is not defined by the operation 'accel_isa.config'
