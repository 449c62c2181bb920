// Batch normalization forward in training mode, fused: one workgroup per channel ch.
// x is viewed as [N, C, S] (S = H*W for 2-D, L for 1-D sequences, 1 for [N, C]); channel
// ch owns the M = N*S elements x[(nn*C + ch)*S + ss].
//   pass 1: mean = sum(x) / M
//   pass 2: var = (sum(d^2) - sum(d)^2 / M) / M with d = x - mean (the corrected two-pass
//           algorithm: the second term removes the rounding error of the mean)
//   pass 3: y = (x - mean) * invstd * weight + bias, invstd = 1 / sqrt(var + eps); with
//           relu = 1 then y = relu(y), as elementwise/unary.wgsl computes it (a NaN stays),
//           so the fused op has the bits of batch norm followed by relu
// Every pass is strided over the workgroup (invocation lid takes elements lid, lid + WG,
// ...), and the WG partial sums are combined in workgroup memory in two levels of 16, so
// each sum is a short serial run (M / WG terms) and then sums of 16 and WG / 16 partials,
// never one long serial accumulation: accurate for large M.
// The channel's data (M floats) is re-read by passes 2 and 3, mostly from cache.
// Invocation 0 writes the saved mean / invstd and, when update_running is 1, updates the
// running statistics in place (PyTorch's rule, the unbiased variance var * M / (M - 1)).
//
// `main4` is the same over vec4s where S % 4 == 0 (a row of S floats is S / 4 vec4s, and
// rows start on vec4 boundaries): the wrapper then passes s, step_n and step_s in vec4s
// (m stays in elements), each invocation keeps four partial sums per pass, one per
// component, and adds them as (x + y) + (z + w) before the workgroup sum. On lavapipe each
// storage access with a varying index runs lane by lane and a vec4 costs about what a
// scalar does (elementwise/unary.wgsl), so this runs a quarter of the per-lane load loops
// (bench: forward 22-35% faster on the C256 / C512 maps, BENCHMARKS.md "f8e8a27").
override WG: u32 = 256; // a multiple of 16 (two-level reduction)

struct Params {
  n: u32,
  c: u32,
  s: u32,
  step_n: u32,    // WG / S: whole rows of S skipped per stride of WG elements
  step_s: u32,    // WG % S
  m: f32,         // N * S
  eps: f32,
  momentum: f32,
  unbias: f32,    // M / (M - 1)
  // Flags (0 / 1) are uniforms rather than override constants: the branches are uniform
  // and per channel, and every combination shares one pipeline (CPU drivers take seconds
  // to compile each variant).
  has_weight: u32,
  has_bias: u32,
  update_running: u32,
  relu: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> invstd_out: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> running_var: array<f32>;

//!include "batch-norm-common.inc.wgsl"
//!include "../elementwise/nan.inc.wgsl"

// Everything after the two sums, shared by both entry points: the variance (clamped), the
// saved statistics and the running update (invocation 0), and vec2(scale, shift) for
// y = (x - mean) * scale + shift.
fn finish(lid: u32, ch: u32, mean: f32, t: vec2<f32>) -> vec2<f32> {
  // Rounding can leave a variance of ~0 slightly negative: clamp it to 0, and let a NaN
  // through. WGSL lets a compiler assume no NaNs, and NVIDIA's folds a float compare and
  // select into max(v, 0), which returns 0 for a NaN: so the test is on the bits. Sign set
  // and magnitude at most infinity's (0x7f800000) is -0 to -inf; a NaN's magnitude is above.
  let v = (t.y - t.x * t.x / params.m) / params.m;
  let vb = bitcast<u32>(v);
  let variance = select(v, 0.0, vb >= 0x80000000u && vb <= 0xff800000u);
  let invstd = 1.0 / sqrt(variance + params.eps);

  if (lid == 0u) {
    mean_out[ch] = mean;
    invstd_out[ch] = invstd;
    if (params.update_running == 1u) {
      let mo = params.momentum;
      running_mean[ch] = (1.0 - mo) * running_mean[ch] + mo * mean;
      running_var[ch] = (1.0 - mo) * running_var[ch] + mo * (variance * params.unbias);
    }
  }

  var scale = invstd;
  if (params.has_weight == 1u) { scale *= weight[ch]; }
  var shift = 0.0;
  if (params.has_bias == 1u) { shift = bias[ch]; }
  return vec2<f32>(scale, shift);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let ch = wid.x;
  let lid = lid3.x;

  var s1 = 0.0;
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    s1 += x[offset(k, ch)];
  }
  let mean = wg_sum(lid, vec2<f32>(s1, 0.0)).x / params.m;

  var s2 = vec2<f32>(0.0, 0.0);
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let d = x[offset(k, ch)] - mean;
    s2 += vec2<f32>(d, d * d);
  }
  let f = finish(lid, ch, mean, wg_sum(lid, s2));
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let o = offset(k, ch);
    y[o] = act4(vec4((x[o] - mean) * f.x + f.y)).x;
  }
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;

// The fused relu (params.relu), nan.inc.wgsl's relu4 as unary.wgsl applies it.
fn act4(v: vec4<f32>) -> vec4<f32> {
  if (params.relu == 0u) { return v; }
  return relu4(v);
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let ch = wid.x;
  let lid = lid3.x;

  var s1 = vec4<f32>(0.0);
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    s1 += x4[offset(k, ch)];
  }
  let mean = wg_sum(lid, vec2<f32>(hsum(s1), 0.0)).x / params.m;

  var sd = vec4<f32>(0.0);
  var sdd = vec4<f32>(0.0);
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let d = x4[offset(k, ch)] - mean;
    sd += d;
    sdd += d * d;
  }
  let f = finish(lid, ch, mean, wg_sum(lid, vec2<f32>(hsum(sd), hsum(sdd))));
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let o = offset(k, ch);
    y4[o] = act4((x4[o] - mean) * f.x + f.y);
  }
}
