// Softmax and log-softmax over one axis, forward and backward.
//
// x is viewed as [outer, axis, inner] (row-major). A "row" is one (o, i) pair with
// o in [0, outer), i in [0, inner); row r = o * inner + i. Its `axis` elements sit at
//   base + a * inner,  base = o * axis * inner + i,  a in [0, axis).
//
// Numerically stable: m = max over the row, s = sum exp(x - m),
//   softmax     y = exp(x - m) / s
//   log_softmax y = x - m - log(s)
// Backward (dy = upstream gradient, y = saved forward output):
//   softmax     dx = y * (dy - sum(dy * y))
//   log_softmax dx = dy - exp(y) * sum(dy)
//
// With HAS_LEN = 1 only the first n = clamp(lengths[o / len_group], 0, axis) elements of a
// row take part (a source mask): the rest get y = 0 and dx = 0. len_group is the number of
// consecutive outer indices that share one length (attention scores [N, T, S] over S:
// outer = N * T, one length per batch item, so len_group = T).
//
// NaN: max() may drop NaN operands, so the row maximum is taken with max_nan, which keeps
// the first NaN it sees; a row whose maximum is NaN is written as that NaN throughout. In
// backward, NaN flows through the sums by ordinary IEEE arithmetic.
//
// Two layouts of the same math:
//   *_row: one invocation per row looping over the axis (short axes: the 37 classes of a
//          recognizer), 1-D grid folded by Runtime.grid: r = gid.x + gid.y * nwg.x * WG.
//   *_wg:  one workgroup per row (long axes); WG invocations stride over the axis and
//          combine partial results by a tree reduction in workgroup memory. The workgroup
//          index is folded the same way: r = wid.x + wid.y * nwg.x.
override WG: u32 = 64;
override LOG: u32 = 0;
override HAS_LEN: u32 = 0;

struct Params {
  rows: u32,
  axis: u32,
  inner: u32,
  len_group: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// forward: src = x, dst = y.  backward: src = dy, dst = dx, saved = y.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> lengths: array<i32>;
@group(0) @binding(4) var<storage, read> saved: array<f32>;

// The lowest finite f32: the identity of max for finite rows (WGSL has no -inf literal).
const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> red: array<f32, WG>;

//!include "../elementwise/nan.inc.wgsl"

// First element of row r, and the number of valid elements in it.
fn row_base(r: u32) -> u32 {
  let o = r / params.inner;
  return o * params.axis * params.inner + (r - o * params.inner);
}

fn row_len(r: u32) -> u32 {
  if (HAS_LEN == 0u) { return params.axis; }
  let o = r / params.inner;
  return min(u32(max(lengths[o / params.len_group], 0)), params.axis);
}

@compute @workgroup_size(WG)
fn forward_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let base = row_base(r);
  let n = row_len(r);
  let st = params.inner;
  var m = LOWEST;
  for (var a = 0u; a < n; a++) { m = max_nan(m, src[base + a * st]); }
  var s = 0.0;
  for (var a = 0u; a < n; a++) { s += exp(src[base + a * st] - m); }
  let ls = log(s);
  let inv = 1.0 / s;
  for (var a = 0u; a < n; a++) {
    let v = src[base + a * st];
    var y: f32;
    if (LOG == 1u) { y = v - m - ls; } else { y = exp(v - m) * inv; }
    dst[base + a * st] = select(y, m, is_nan(m));
  }
  for (var a = n; a < params.axis; a++) { dst[base + a * st] = 0.0; }
}

@compute @workgroup_size(WG)
fn forward_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
  // r depends only on the workgroup id, so this return is uniform and the barriers below
  // are reached by all or none of the workgroup.
  let r = wid.x + wid.y * nwg.x;
  if (r >= params.rows) { return; }
  let base = row_base(r);
  let n = row_len(r);
  let st = params.inner;
  let l = lid.x;

  var m = LOWEST;
  for (var a = l; a < n; a += WG) { m = max_nan(m, src[base + a * st]); }
  red[l] = m;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (l < k) { red[l] = max_nan(red[l], red[l + k]); }
    workgroupBarrier();
  }
  m = red[0];
  // Everyone must have read red[0] before red is reused for the sums.
  workgroupBarrier();

  var s = 0.0;
  for (var a = l; a < n; a += WG) { s += exp(src[base + a * st] - m); }
  red[l] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (l < k) { red[l] += red[l + k]; }
    workgroupBarrier();
  }
  s = red[0];

  let ls = log(s);
  let inv = 1.0 / s;
  for (var a = l; a < n; a += WG) {
    let v = src[base + a * st];
    var y: f32;
    if (LOG == 1u) { y = v - m - ls; } else { y = exp(v - m) * inv; }
    dst[base + a * st] = select(y, m, is_nan(m));
  }
  for (var a = n + l; a < params.axis; a += WG) { dst[base + a * st] = 0.0; }
}

// The per-element term of the backward row sum: dy * y (softmax) or dy (log_softmax).
fn bw_term(i: u32) -> f32 {
  if (LOG == 1u) { return src[i]; }
  return src[i] * saved[i];
}

fn bw_value(i: u32, s: f32) -> f32 {
  if (LOG == 1u) { return src[i] - exp(saved[i]) * s; }
  return saved[i] * (src[i] - s);
}

@compute @workgroup_size(WG)
fn backward_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let base = row_base(r);
  let n = row_len(r);
  let st = params.inner;
  var s = 0.0;
  for (var a = 0u; a < n; a++) { s += bw_term(base + a * st); }
  for (var a = 0u; a < n; a++) { dst[base + a * st] = bw_value(base + a * st, s); }
  for (var a = n; a < params.axis; a++) { dst[base + a * st] = 0.0; }
}

@compute @workgroup_size(WG)
fn backward_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x; // uniform per workgroup: see forward_wg
  if (r >= params.rows) { return; }
  let base = row_base(r);
  let n = row_len(r);
  let st = params.inner;
  let l = lid.x;
  var s = 0.0;
  for (var a = l; a < n; a += WG) { s += bw_term(base + a * st); }
  red[l] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (l < k) { red[l] += red[l + k]; }
    workgroupBarrier();
  }
  s = red[0];
  for (var a = l; a < n; a += WG) { dst[base + a * st] = bw_value(base + a * st, s); }
  for (var a = n + l; a < params.axis; a += WG) { dst[base + a * st] = 0.0; }
}
