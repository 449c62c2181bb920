// CTC forward (alpha) and backward (beta) recursions in log space.
//
// Workgroup (n, 0) runs alpha for sample n, workgroup (n, 1) runs beta (only dispatched when
// the gradient is wanted), so both recursions of every sample run side by side. Invocations
// own extended label positions s = lid, lid + WG, ... < L = 2 * S_n + 1; position s holds
// the blank when s is even and target[(s - 1) / 2] when s is odd. The loop over time runs
// inside the kernel; row t depends on row t -/+ 1 written by other invocations of the same
// group, so a storageBarrier() separates consecutive time steps.
//
// Both alpha and beta include the emission at their own frame (PyTorch's convention):
//   alpha[t][s] = logp[t, l'(s)] + lse(alpha[t-1][s], alpha[t-1][s-1], alpha[t-1][s-2]*)
//   beta[t][s]  = logp[t, l'(s)] + lse(beta[t+1][s], beta[t+1][s+1], beta[t+1][s+2]*)
// (* only when l'(s) is a label that differs from l'(s -/+ 2): no skip over a blank between
// two equal labels).
//
// Rescaling: log alpha falls by a few units per frame (to ~ -3000 at T = 512), where an f32
// keeps only ~1e-4 of absolute precision, which exp() in the gradient would turn into
// relative errors of 1e-3 and more. So every stored row is shifted by a per-frame constant:
// row t is stored as alpha[t] - K_t, where K_t - K_{t-1} is the maximum of stored row t - 1
// (found with a workgroup reduction). Stored values stay within a few units of 0. The loss
// needs the constant back: log p = lse(last stored row's end positions) + K_{T_n - 1}; the
// gradient does not (ctc-grad.wgsl normalises each frame by its own total), so beta keeps
// no sum of its shifts at all.
// Layout of alpha / beta: [N, T, L_max], row (n, t) at (n * T + t) * L_max. Frames t >= T_n
// and positions s >= L are never written (and never read).
const WG: u32 = 64u;

struct Params {
  t_max: u32,   // T
  n: u32,       // N
  c: u32,       // C
  s_max: u32,   // S: targets are [N, S]
  l_max: u32,   // 2 * S + 1
  blank: u32,
  neg_inf: f32, // -Infinity, passed in because WGSL has no literal for it
  nan: f32,     // NaN, the emission of an out-of-range label (tensor targets are not checked)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logp: array<f32>;      // [T, N, C]
@group(0) @binding(2) var<storage, read> targets: array<i32>;   // [N, S]
@group(0) @binding(3) var<storage, read> lens: array<i32>;      // [2, N]: input, target lengths
@group(0) @binding(4) var<storage, read_write> alpha: array<f32>;
@group(0) @binding(5) var<storage, read_write> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> nll: array<f32>; // [N]: -log p(target | x)

var<workgroup> red: array<f32, WG>;

//!include "ctc-common.inc.wgsl"

fn emit(t: u32, n: u32, lab: u32) -> f32 {
  if (lab >= params.c) { return params.nan; }
  return logp[(t * params.n + n) * params.c + lab];
}

// The shift for the next row: the maximum of the row just stored, from each invocation's
// maximum over its own positions. The leading storageBarrier also makes the stored row
// visible to the invocations that read it next. A row without any reachable position
// (all -inf: logits of -inf) shifts by 0 rather than produce -inf - -inf = NaN.
fn row_shift(lid: u32, m: f32) -> f32 {
  red[lid] = m;
  storageBarrier();
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  // Everyone has read red[0] before the next row's reduction overwrites it.
  workgroupBarrier();
  if (r == params.neg_inf) { return 0.0; }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x;
  // Lengths come from a read-only buffer at a workgroup-uniform index, so they are uniform
  // and the time loops (which hold barriers) are uniform too. The host validated them; the
  // clamps only guarantee that a bad value can neither run past the buffers nor hang.
  let tn = clamp(u32(max(lens[n], 1)), 1u, params.t_max);
  let sn = min(u32(max(lens[params.n + n], 0)), params.s_max);
  let l = 2u * sn + 1u;
  let base = n * params.t_max * params.l_max;
  var m = params.neg_inf; // this invocation's maximum over its positions of the last row

  if (wid.y == 0u) {
    // alpha: a path starts in the leading blank (s = 0) or on the first label (s = 1).
    for (var s = lid.x; s < l; s += WG) {
      var v = params.neg_inf;
      if (s < 2u) { v = emit(0u, n, ext_label(n, s)); }
      alpha[base + s] = v;
      m = max(m, v);
    }
    var k = 0.0; // K_t: alpha[t] = stored row t + K_t
    for (var t = 1u; t < tn; t++) {
      let shift = row_shift(lid.x, m);
      k += shift;
      m = params.neg_inf;
      let prev = base + (t - 1u) * params.l_max;
      let cur = prev + params.l_max;
      for (var s = lid.x; s < l; s += WG) {
        let lab = ext_label(n, s);
        var a = alpha[prev + s];
        if (s >= 1u) { a = lse(a, alpha[prev + s - 1u]); }
        if (s >= 2u && lab != params.blank && lab != ext_label(n, s - 2u)) { a = lse(a, alpha[prev + s - 2u]); }
        let v = a - shift + emit(t, n, lab);
        alpha[cur + s] = v;
        m = max(m, v);
      }
    }
    // The last row is complete before invocation 0 reads its end positions.
    storageBarrier();
    if (lid.x == 0u) {
      // A path ends on the last label (s = L - 2) or the trailing blank (s = L - 1).
      let last = base + (tn - 1u) * params.l_max;
      var ll = alpha[last + l - 1u];
      if (l >= 2u) { ll = lse(ll, alpha[last + l - 2u]); }
      nll[n] = -(ll + k);
    }
  } else {
    // beta: mirror image, starting from the last frame in the last two positions.
    let last = base + (tn - 1u) * params.l_max;
    for (var s = lid.x; s < l; s += WG) {
      var v = params.neg_inf;
      if (s + 2u >= l) { v = emit(tn - 1u, n, ext_label(n, s)); }
      beta[last + s] = v;
      m = max(m, v);
    }
    for (var k = 1u; k < tn; k++) {
      let t = tn - 1u - k;
      let shift = row_shift(lid.x, m);
      m = params.neg_inf;
      let nxt = base + (t + 1u) * params.l_max;
      let cur = base + t * params.l_max;
      for (var s = lid.x; s < l; s += WG) {
        let lab = ext_label(n, s);
        var b = beta[nxt + s];
        if (s + 1u < l) { b = lse(b, beta[nxt + s + 1u]); }
        if (s + 2u < l && lab != params.blank && lab != ext_label(n, s + 2u)) { b = lse(b, beta[nxt + s + 2u]); }
        let v = b - shift + emit(t, n, lab);
        beta[cur + s] = v;
        m = max(m, v);
      }
    }
  }
}
