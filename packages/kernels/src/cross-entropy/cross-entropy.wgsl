// Cross-entropy of logits against integer class targets, PyTorch semantics:
//   loss_r = logsumexp(x_r) - x_r[t_r]        for every row r whose target is not ignore_index
// Logits are viewed as [outer, C, inner] (the class axis in the middle; golden [N, C, T] has
// outer = N, inner = T); targets are [outer, inner] row-major, so row r = o * inner + i owns
// target r and the classes x[(o * C + c) * inner + i], c in [0, C).
//
// Entry points. With layout 'auto' an entry's bind group holds exactly the bindings it uses,
// and the runtime binds its tensors at 1..n in order, so each entry uses bindings 1..n
// without gaps; where two entries need different buffers in one slot they declare two
// variables with the same binding (allowed when no entry uses both).
//   row_loss  (targets, out_buf = per-row losses, logits), one invocation per row:
//             out_buf[r] = loss_r (0 for ignored rows)
//   reduce    (targets, out_buf = per-row losses, result), one workgroup: result[0] = sum
//             of the row losses (REDUCTION 1) or that sum divided by the number of
//             non-ignored rows (REDUCTION 0, mean). Each invocation sums a strided slice; a
//             tree in workgroup memory (a barrier per halving) combines them.
//   count     (targets, out_buf = count), one workgroup: out_buf[0] = number of non-ignored
//             rows, for mean's backward
//   backward  (targets, out_buf = dlogits, logits, count_in, upstream), one invocation per
//             row: dlogits = g_r * (softmax(x_r) - onehot(t_r)) with g_r = dloss / count
//             (mean), dloss (sum) or dloss[r] (none); 0 for ignored rows
//
// A target outside [0, C) that is not ignore_index cannot be rejected on the GPU: its row's
// loss and its gradient row become NaN (params.nan, a NaN passed in from the host because a
// NaN constant is a WGSL compile error), so mean and sum become NaN too. Mean over zero
// non-ignored rows is NaN, as in PyTorch; its gradient is 0 everywhere.
// NaN logits: the row maximum keeps NaN (max_nan), so the row's loss and gradient are NaN.
override WG: u32 = 64;
override REDUCTION: u32 = 0; // 0 mean, 1 sum, 2 none

struct Params {
  rows: u32,
  classes: u32,
  inner: u32,
  ignore_index: i32,
  nan: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> result: array<f32>;
@group(0) @binding(4) var<storage, read> count_in: array<f32>;
@group(0) @binding(5) var<storage, read> upstream: array<f32>;

const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> red_sum: array<f32, WG>;
var<workgroup> red_cnt: array<u32, WG>;

//!include "../elementwise/nan.inc.wgsl"

fn row_base(r: u32) -> u32 {
  let o = r / params.inner;
  return o * params.classes * params.inner + (r - o * params.inner);
}

// Row maximum and sum of exp(x - max) over the classes of the row starting at base.
fn row_stats(base: u32) -> vec2<f32> {
  let st = params.inner;
  var m = LOWEST;
  for (var c = 0u; c < params.classes; c++) { m = max_nan(m, logits[base + c * st]); }
  var s = 0.0;
  for (var c = 0u; c < params.classes; c++) { s += exp(logits[base + c * st] - m); }
  return vec2<f32>(m, s);
}

fn in_range(t: i32) -> bool {
  return t >= 0 && u32(t) < params.classes;
}

@compute @workgroup_size(WG)
fn row_loss(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let t = targets[r];
  if (t == params.ignore_index) { out_buf[r] = 0.0; return; }
  if (!in_range(t)) { out_buf[r] = params.nan; return; }
  let base = row_base(r);
  let ms = row_stats(base);
  let loss = ms.x + log(ms.y) - logits[base + u32(t) * params.inner];
  out_buf[r] = select(loss, ms.x, is_nan(ms.x));
}

// Sums out_buf (when SUM_LOSS) and counts non-ignored targets over all rows in one
// workgroup. Returns (sum, count) to invocation 0; the values other invocations see are
// partial.
fn reduce_rows(l: u32, sum_loss: bool) -> vec2<f32> {
  var s = 0.0;
  var n = 0u;
  for (var r = l; r < params.rows; r += WG) {
    if (sum_loss) { s += out_buf[r]; }
    if (targets[r] != params.ignore_index) { n += 1u; }
  }
  red_sum[l] = s;
  red_cnt[l] = n;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (l < k) {
      red_sum[l] += red_sum[l + k];
      red_cnt[l] += red_cnt[l + k];
    }
    workgroupBarrier();
  }
  return vec2<f32>(red_sum[0], f32(red_cnt[0]));
}

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_id) lid: vec3<u32>) {
  let sc = reduce_rows(lid.x, true);
  if (lid.x != 0u) { return; }
  if (REDUCTION == 1u) { result[0] = sc.x; return; }
  // Mean over zero rows is 0/0: written as NaN explicitly (WGSL leaves x/0 unspecified).
  result[0] = select(sc.x / sc.y, params.nan, sc.y == 0.0);
}

@compute @workgroup_size(WG)
fn count(@builtin(local_invocation_id) lid: vec3<u32>) {
  let sc = reduce_rows(lid.x, false);
  if (lid.x == 0u) { out_buf[0] = sc.y; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let base = row_base(r);
  let st = params.inner;
  let t = targets[r];
  if (t == params.ignore_index) {
    for (var c = 0u; c < params.classes; c++) { out_buf[base + c * st] = 0.0; }
    return;
  }
  var g: f32;
  if (REDUCTION == 0u) {
    g = upstream[0] / count_in[0]; // count_in[0] >= 1 here: this row is counted
  } else if (REDUCTION == 1u) {
    g = upstream[0];
  } else {
    g = upstream[r];
  }
  let ms = row_stats(base);
  let inv = 1.0 / ms.y;
  let bad = !in_range(t) || is_nan(ms.x);
  for (var c = 0u; c < params.classes; c++) {
    let p = exp(logits[base + c * st] - ms.x) * inv;
    let d = g * (p - select(0.0, 1.0, i32(c) == t));
    out_buf[base + c * st] = select(d, params.nan, bad);
  }
}
