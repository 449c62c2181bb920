// log_softmax over the class axis of logits [T, N, C]: one workgroup per (t, n) row.
// The row is reduced twice (max, then sum of exp(x - max)) with a tree in workgroup memory,
// so no value is exponentiated before the row maximum is subtracted (C up to thousands).
// A NaN anywhere in the row reaches the sum, so the whole row of logp becomes NaN.
// `serial` (software adapters): one invocation per row does what main's WG invocations do,
// invocation by invocation, and the same trees: the same bits without barriers (see
// ctc-grad.wgsl).
const WG: u32 = 64u;

struct Params {
  rows: u32,  // T * N
  c: u32,     // classes
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> logp: array<f32>;

var<workgroup> red: array<f32, WG>;

// Invocation `lane`'s partial max and partial sum of exp(x - m) over classes lane, lane + WG, ...
fn max_partial(base: u32, lane: u32) -> f32 {
  var m = logits[base];
  for (var c = lane; c < params.c; c += WG) { m = max(m, logits[base + c]); }
  return m;
}

fn sum_partial(base: u32, lane: u32, m: f32) -> f32 {
  var s = 0.0;
  for (var c = lane; c < params.c; c += WG) { s += exp(logits[base + c] - m); }
  return s;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  // Rows fold into a 2-D grid past the per-dimension limit (rt.grid with one row per group).
  let r = wid.x + wid.y * nwg.x;
  // r depends only on the workgroup id: the whole group returns together, so the barriers
  // below stay in uniform control flow.
  if (r >= params.rows) { return; }
  let base = r * params.c;

  red[lid.x] = max_partial(base, lid.x);
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid.x < w) { red[lid.x] = max(red[lid.x], red[lid.x + w]); }
    workgroupBarrier();
  }
  let m = red[0];
  // Every invocation has read red[0] before it is overwritten by the sum reduction.
  workgroupBarrier();

  red[lid.x] = sum_partial(base, lid.x, m);
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid.x < w) { red[lid.x] = red[lid.x] + red[lid.x + w]; }
    workgroupBarrier();
  }
  let lse = m + log(red[0]);
  for (var c = lid.x; c < params.c; c += WG) { logp[base + c] = logits[base + c] - lse; }
}

@compute @workgroup_size(WG)
fn serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let base = r * params.c;
  // main's trees, level by level: within a level no slot is both read and written.
  var part: array<f32, WG>;
  for (var i = 0u; i < WG; i++) { part[i] = max_partial(base, i); }
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    for (var i = 0u; i < w; i++) { part[i] = max(part[i], part[i + w]); }
  }
  let m = part[0];
  for (var i = 0u; i < WG; i++) { part[i] = sum_partial(base, i, m); }
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    for (var i = 0u; i < w; i++) { part[i] = part[i] + part[i + w]; }
  }
  let lse = m + log(part[0]);
  for (var c = 0u; c < params.c; c++) { logp[base + c] = logits[base + c] - lse; }
}
