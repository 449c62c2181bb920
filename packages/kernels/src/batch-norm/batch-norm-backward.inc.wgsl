// Batch normalization backward, fused: one workgroup per channel ch, x and dy viewed as
// [N, C, S] (see batch-norm-train.wgsl for the layout and the strided cursor).
// With xhat = (x - mean) * invstd (mean / invstd saved by the forward pass):
//   pass 1: sum_dy = sum(dy), sum_dy_xhat = sum(dy * xhat), combined by a tree reduction;
//           dbias[ch] = sum_dy, dweight[ch] = sum_dy_xhat
//   pass 2: training = 1 (batch statistics depend on x):
//             dx = weight * invstd * (dy - sum_dy / M - xhat * sum_dy_xhat / M)
//           training = 0 (eval: running statistics are constants):
//             dx = weight * invstd * dy
// The order of every sum is fixed, so the result is deterministic.
// `main4`: the same over vec4s where S % 4 == 0, as in batch-norm-train.wgsl (s, step_n and
// step_s then count vec4s; four partial sums per invocation, added as (x + y) + (z + w)).
//
// A fragment (textual include): dy is read only through the includer's hooks
//   fn load_dy(o: u32) -> f32          element o of the incoming gradient
//   fn load_dy4(o: u32) -> vec4<f32>   vec4 o of it (main4)
// batch-norm-backward.wgsl reads dy itself; batch-norm-backward-relu.wgsl masks it by the
// fused relu's output first, as relu's backward would have in a dispatch of its own.
override WG: u32 = 256; // a multiple of 16 (two-level reduction)

struct Params {
  n: u32,
  c: u32,
  s: u32,
  step_n: u32, // WG / S
  step_s: u32, // WG % S
  m: f32,      // N * S
  // Uniform flags (0 / 1), not override constants: one pipeline serves every combination.
  has_weight: u32,
  training: u32,
  need_dx: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbias: array<f32>;

//!include "batch-norm-common.inc.wgsl"

// vec2(mean_dy, mean_dy_xhat) and scale = invstd * weight from the two sums; invocation 0
// writes dbias and dweight. Shared by both entry points.
struct Coefs {
  mean_dy: f32,
  mean_dy_xhat: f32,
  scale: f32,
}

fn coefs(lid: u32, ch: u32, istd: f32, t: vec2<f32>) -> Coefs {
  if (lid == 0u) {
    dbias[ch] = t.x;
    dweight[ch] = t.y;
  }
  var scale = istd;
  if (params.has_weight == 1u) { scale *= weight[ch]; }
  return Coefs(t.x / params.m, t.y / params.m, scale);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let ch = wid.x;
  let lid = lid3.x;
  let mu = mean[ch];
  let istd = invstd[ch];

  var acc = vec2<f32>(0.0, 0.0);
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let o = offset(k, ch);
    let g = load_dy(o);
    acc += vec2<f32>(g, g * ((x[o] - mu) * istd));
  }
  let c = coefs(lid, ch, istd, wg_sum(lid, acc));
  if (params.need_dx == 1u) {
    if (params.training == 1u) {
      for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
        let o = offset(k, ch);
        let xhat = (x[o] - mu) * istd;
        dx[o] = c.scale * (load_dy(o) - c.mean_dy - xhat * c.mean_dy_xhat);
      }
    } else {
      for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
        let o = offset(k, ch);
        dx[o] = c.scale * load_dy(o);
      }
    }
  }
}

@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dx4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let ch = wid.x;
  let lid = lid3.x;
  let mu = mean[ch];
  let istd = invstd[ch];

  var ag = vec4<f32>(0.0);
  var agx = vec4<f32>(0.0);
  for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
    let o = offset(k, ch);
    let g = load_dy4(o);
    ag += g;
    agx += g * ((x4[o] - mu) * istd);
  }
  let c = coefs(lid, ch, istd, wg_sum(lid, vec2<f32>(hsum(ag), hsum(agx))));
  if (params.need_dx == 1u) {
    if (params.training == 1u) {
      for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
        let o = offset(k, ch);
        let xhat = (x4[o] - mu) * istd;
        dx4[o] = c.scale * (load_dy4(o) - c.mean_dy - xhat * c.mean_dy_xhat);
      }
    } else {
      for (var k = cursor_start(lid); k.nn < params.n; k = cursor_next(k)) {
        let o = offset(k, ch);
        dx4[o] = c.scale * load_dy4(o);
      }
    }
  }
}
