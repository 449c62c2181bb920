// Batch normalization forward in eval mode: elementwise with the running statistics,
//   y = (x - running_mean[ch]) * invstd[ch] * weight[ch] + bias[ch],
//   invstd = 1 / sqrt(running_var + eps),
// over x viewed as [N, C, S], so element i is in channel (i / S) % C. Invocations i < C
// also store the saved statistics of channel i (mean = running_mean, invstd) for the
// backward pass: x has N*C*S >= C elements, so every channel has such an invocation.
// relu = 1 applies relu to y as elementwise/unary.wgsl does (a NaN stays): batch norm
// followed by relu, in one pass.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 256;

struct Params {
  total: u32,
  c: u32,
  s: u32,
  eps: f32,
  has_weight: u32, // uniform flags (0 / 1): one pipeline for every combination
  has_bias: u32,
  relu: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> invstd_out: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> running_mean: array<f32>;
@group(0) @binding(8) var<storage, read> running_var: array<f32>;

//!include "../elementwise/nan.inc.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  if (i < params.c) {
    mean_out[i] = running_mean[i];
    invstd_out[i] = 1.0 / sqrt(running_var[i] + params.eps);
  }
  let ch = (i / params.s) % params.c;
  var scale = 1.0 / sqrt(running_var[ch] + params.eps);
  if (params.has_weight == 1u) { scale *= weight[ch]; }
  var shift = 0.0;
  if (params.has_bias == 1u) { shift = bias[ch]; }
  let v = (x[i] - running_mean[ch]) * scale + shift;
  if (params.relu == 1u) {
    y[i] = relu4(vec4(v)).x;
  } else {
    y[i] = v;
  }
}
