// The forward half of the step kernels lstm-forward(-sg).wgsl and gru-forward(-sg).wgsl: their
// Params, the gate activations, the stores of the new h, and the hooks that the variant's
// main (step-generic.inc.wgsl, step-sg.inc.wgsl) calls: a lane owns hidden unit j (all
// gates) of its tile's batch rows. Includers declare, with the layouts in their headers:
//   params: Params (uniform)   w, hin: array<vec4<f32>>   hout, hp, y: array<f32>
//   fn forward_row(hh: vec4<f32>, d: u32, t: u32, n: u32, j: u32): the cell (lstm- or
//   gru-forward-cell.inc.wgsl)
//   and through the variant: NB, NB_MAX and fn matvec (step-generic.inc.wgsl says how).
//!include "step-common.inc.wgsl"

struct Params {
  T: u32,
  N: u32,
  H: u32,
  dirs: u32,
  s: u32,        // step index: time s forward, T-1-s backward
  stride_g: u32, // elements between the directions' blocks of gx
  stride_h: u32, // elements between the directions' blocks of hp
  hq: u32,       // Hp / 4 with Hp = H rounded up to a multiple of 4
}

fn sigmoid(v: f32) -> f32 {
  // Split by sign so exp never overflows (and NaN stays NaN through either branch).
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

fn tanh_(v: f32) -> f32 {
  // (1 - e^-2|v|) / (1 + e^-2|v|) never overflows; the builtin may give NaN for large |v|
  // on some drivers.
  let e = exp(-2.0 * abs(v));
  let r = (1.0 - e) / (1.0 + e);
  return select(-r, r, v >= 0.0);
}

// The recurrent product reads the vector h_prev, [dirs, N, Hp] in vec4s of 4 k, from hin and
// the matrix, [dirs, Hp(k), H(j)] vec4s of unit j's gates (packed W_hh), from w.
fn mv_vec(i: u32) -> vec4<f32> { return hin[i]; }
fn mv_mat(i: u32) -> vec4<f32> { return w[i]; }

// Step s runs time t = s for direction 0 and t = T-1-s for direction 1 (the reverse one).
fn step_time(d: u32) -> u32 {
  return select(params.s, params.T - 1u - params.s, d == 1u);
}

// Lanes along x: one per hidden unit j.
fn step_units() -> u32 {
  return params.H;
}

// acc[b] += W_hh h_prev of unit j (all gates) for the rows of the tile: over k < Hp (rows
// k >= H of w are 0), vec4 (d, k, j) of w at d * Hp * H + k * H + j; row n's h_prev at
// hin[(d * N + n) * hq + k / 4]. nl: the first row the lane loads (see matvec).
fn step_product(acc: ptr<function, array<vec4<f32>, NB_MAX>>, d: u32, nl: u32, j: u32) {
  let hq = params.hq;
  matvec(acc, hq, d * 4u * hq * params.H + j, params.H, hq, d, nl);
}

// After the product, acc[b] = W_hh h_prev of unit j, batch row n0 + b: adds b_hh and runs the
// cell for the rows of the tile below N.
fn step_tile(acc: ptr<function, array<vec4<f32>, NB_MAX>>, d: u32, n0: u32, j: u32) {
  // b_hh of unit j (all gates) follows the packed weights of all directions in w.
  let bias = w[params.dirs * 4u * params.hq * params.H + d * params.H + j];
  let t = step_time(d);
  for (var b = 0u; b < NB; b++) {
    let n = n0 + b;
    if (n >= params.N) { break; }
    forward_row((*acc)[b] + bias, d, t, n, j); // W_h h_prev + b_h of the gate rows
  }
}

// Stores the new h of (d, t, n, j) in y, in hout (the next step's hin) and in hp as the h_prev
// of the direction's next time (t+1 forward, t-1 reverse).
fn store_h(d: u32, t: u32, n: u32, j: u32, h: f32) {
  y[y_index(d, t, n, j)] = h;
  hout[(d * params.N + n) * 4u * params.hq + j] = h;
  if (d == 0u && t + 1u < params.T) { hp[hp_index(d, t + 1u, n, j)] = h; }
  if (d == 1u && t > 0u) { hp[hp_index(d, t - 1u, n, j)] = h; }
}
