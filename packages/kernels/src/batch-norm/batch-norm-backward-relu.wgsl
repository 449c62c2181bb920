// Batch normalization backward (the fragment's header says how) after a forward that fused
// relu: the gradient reaching the batch norm's output is dy where relu's output y > 0, else
// 0, taken as it is read, with the select of elementwise/unary.wgsl's relu backward (so the
// same bits as that dispatch followed by batch-norm-backward.wgsl), sparing a pass over the
// map and its write. y is a ninth storage binding: for adapters that offer 9 per stage
// (WebGPU's default is 8; batch-norm.ts falls back to the two dispatches elsewhere).
//!include "batch-norm-backward.inc.wgsl"

@group(0) @binding(9) var<storage, read> y_relu: array<f32>;
@group(0) @binding(9) var<storage, read> y_relu4: array<vec4<f32>>;

fn load_dy(o: u32) -> f32 {
  return select(0.0, dy[o], y_relu[o] > 0.0);
}

fn load_dy4(o: u32) -> vec4<f32> {
  return select(vec4(0.0), dy4[o], y_relu4[o] > vec4(0.0));
}
