// Gradient of the (scaled) CTC loss with respect to the logits [T, N, C]: one workgroup per
// (t, n) row, r = t * N + n.
//
//   grad[t, n, c] = scale_n * (softmax[t, n, c] - exp(lcab(c) - logp[t, n, c] - z_t))
//   lcab(c)       = lse over the extended positions s with l'(s) = c of alpha[t][s] + beta[t][s]
//   z_t           = lse over all s of alpha[t][s] + beta[t][s] - logp[t, l'(s)]
//
// alpha and beta both include the emission at t, so alpha + beta - logp counts it once.
// The second term is the posterior probability that frame t emits c (nonzero only for the
// blank and the classes of the target). In exact arithmetic z_t = log p(target | x) at every
// frame; computing it per frame instead cancels the per-frame shifts of the stored (rescaled)
// alpha and beta rows, and makes each frame's posteriors sum to 1 in f32 too.
// scale_n folds in the reduction (1 / (N * max(S_n, 1)) for mean) and the upstream gradient.
// Frames t >= T_n, and samples without a feasible alignment (nll = +inf), get 0.
//
// `serial` (software adapters): one invocation per row does what main's WG invocations do,
// invocation by invocation, and the same tree of lse over their partial sums: the same
// operations in the same order, so the same bits, without barriers (on lavapipe each
// workgroup's barriers cost ~8 us, more than a row's arithmetic at CTC's sizes).
const WG: u32 = 64u;
const F32_MAX: f32 = 3.4e38; // nll above it can only be +inf (no feasible alignment)

struct Params {
  rows: u32,    // T * N
  n: u32,
  c: u32,
  s_max: u32,
  l_max: u32,
  t_max: u32,
  blank: u32,
  neg_inf: f32,
  nan: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logp: array<f32>;      // [T, N, C]
@group(0) @binding(2) var<storage, read> targets: array<i32>;   // [N, S]
@group(0) @binding(3) var<storage, read> lens: array<i32>;      // [2, N]
@group(0) @binding(4) var<storage, read> alpha: array<f32>;     // [N, T, L_max]
@group(0) @binding(5) var<storage, read> beta: array<f32>;      // [N, T, L_max]
@group(0) @binding(6) var<storage, read> nll: array<f32>;       // [N]
@group(0) @binding(7) var<storage, read> scale: array<f32>;     // [N]
@group(0) @binding(8) var<storage, read_write> grad: array<f32>; // [T, N, C]

//!include "ctc-common.inc.wgsl"

var<workgroup> red: array<f32, WG>;

fn label(n: u32, j: u32) -> u32 {
  return u32(targets[n * params.s_max + j]);
}

// Where row r works: frame t of sample n; the first element of its [C] row; the sample's
// extended length l = 2 S_n + 1 and its row of alpha / beta; live is false for frames past
// T_n and samples without a feasible alignment (their gradient is 0).
struct Row {
  t: u32,
  n: u32,
  row: u32,
  sn: u32,
  l: u32,
  ab: u32,
  live: bool,
}

fn row_of(r: u32) -> Row {
  let t = r / params.n;
  let n = r % params.n;
  let tn = clamp(u32(max(lens[n], 1)), 1u, params.t_max);
  let sn = min(u32(max(lens[params.n + n], 0)), params.s_max);
  let nl = nll[n];
  let live = !(t >= tn || nl > F32_MAX); // a NaN nll stays live, as it always did
  return Row(t, n, r * params.c, sn, 2u * sn + 1u, (n * params.t_max + t) * params.l_max, live);
}

// Invocation `lane`'s part of z_t: the lse of its extended positions lane, lane + WG, ...
fn z_partial(w: Row, lane: u32) -> f32 {
  var z = params.neg_inf;
  for (var s = lane; s < w.l; s += WG) {
    let lab = ext_label(w.n, s);
    var lp = params.nan;
    if (lab < params.c) { lp = logp[w.row + lab]; }
    z = lse(z, alpha[w.ab + s] + beta[w.ab + s] - lp);
  }
  return z;
}

// Target label j < S_n (or the blank, j == S_n): rewrites its class's gradient, unless an
// earlier position holds the same class (a repeated label): the first occurrence sums every
// position of its class, so each class is written once.
fn class_term(w: Row, j: u32, sc: f32, zt: f32) {
  var cls = params.blank;
  var acc = params.neg_inf;
  if (j == w.sn) {
    for (var s = 0u; s < w.l; s += 2u) { acc = lse(acc, alpha[w.ab + s] + beta[w.ab + s]); }
  } else {
    cls = label(w.n, j);
    var first = cls != params.blank;
    for (var k = 0u; k < j; k++) {
      if (label(w.n, k) == cls) { first = false; }
    }
    if (!first) { return; }
    for (var k = j; k < w.sn; k++) {
      if (label(w.n, k) == cls) {
        let s = 2u * k + 1u;
        acc = lse(acc, alpha[w.ab + s] + beta[w.ab + s]);
      }
    }
  }
  // Out-of-range classes (unchecked tensor targets) have no gradient entry to write.
  if (cls < params.c) {
    let lp = logp[w.row + cls];
    grad[w.row + cls] = sc * (exp(lp) - exp(acc - lp - zt));
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let r = wid.x + wid.y * nwg.x;
  // Every branch that returns below depends only on r and per-sample values read at a
  // uniform index, so whole workgroups return together and the barrier stays uniform.
  if (r >= params.rows) { return; }
  let w = row_of(r);
  if (!w.live) {
    for (var c = lid.x; c < params.c; c += WG) { grad[w.row + c] = 0.0; }
    return;
  }
  let sc = scale[w.n];
  for (var c = lid.x; c < params.c; c += WG) { grad[w.row + c] = sc * exp(logp[w.row + c]); }

  // z_t: each invocation's lse over its positions, then a tree of lse in workgroup memory.
  red[lid.x] = z_partial(w, lid.x);
  // The classes of the target are rewritten below by other invocations: the softmax term
  // must have landed first (storageBarrier), and red[] must be complete (workgroupBarrier).
  storageBarrier();
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid.x < h) { red[lid.x] = lse(red[lid.x], red[lid.x + h]); }
    workgroupBarrier();
  }
  let zt = red[0];

  // Invocation j < S_n owns target label j; j == S_n owns the blank (the even positions).
  for (var j = lid.x; j <= w.sn; j += WG) { class_term(w, j, sc, zt); }
}

@compute @workgroup_size(WG)
fn serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let w = row_of(r);
  if (!w.live) {
    for (var c = 0u; c < params.c; c++) { grad[w.row + c] = 0.0; }
    return;
  }
  let sc = scale[w.n];
  for (var c = 0u; c < params.c; c++) { grad[w.row + c] = sc * exp(logp[w.row + c]); }
  var part: array<f32, WG>;
  for (var i = 0u; i < WG; i++) { part[i] = z_partial(w, i); }
  // main's tree, level by level: within a level no slot is both read and written.
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    for (var i = 0u; i < h; i++) { part[i] = lse(part[i], part[i + h]); }
  }
  let zt = part[0];
  for (var j = 0u; j <= w.sn; j++) { class_term(w, j, sc, zt); }
}
