// The backward half of the step kernels lstm-backward(-sg).wgsl and gru-backward(-sg).wgsl:
// their Params, the reads of a row of gin, and the hooks that the variant's main
// (step-generic.inc.wgsl, step-sg.inc.wgsl) calls: a lane owns a quad of hidden units
// (4q..4q+3) of its tile's batch rows. Includers declare, with the layouts in their headers:
//   params: Params (uniform)   wq, gin: array<vec4<f32>>
//   fn backward_row(rec: f32, d: u32, n: u32, j: u32): the cell (lstm- or
//   gru-backward-cell.inc.wgsl)
//   and through the variant: NB, NB_MAX and fn matvec (step-generic.inc.wgsl says how).
//!include "step-common.inc.wgsl"

struct Params {
  T: u32,
  N: u32,
  H: u32,
  dirs: u32,
  s: u32,        // backward step, 0..T-1; T for the tail (dh0)
  stride_g: u32, // elements between the directions' blocks of dg (and dgh)
  stride_h: u32, // elements between the directions' blocks of hp
  gq: u32,       // Gp / 4 with Gp = G rounded up to a multiple of 4
  hq: u32,       // Hp / 4 with Hp = H rounded up to a multiple of 4
  rq: u32,       // vec4s per row of gin/gout: (Gp + Hp (+ Hp for LSTM)) / 4
}

// The recurrent product reads the vector, the (hidden-side) gate gradients that start each
// row of gin (rq vec4s apart), from gin and the matrix, W_hh in quads of units, [dirs, Gp(r),
// Hq] vec4s, from wq.
fn mv_vec(i: u32) -> vec4<f32> { return gin[i]; }
fn mv_mat(i: u32) -> vec4<f32> { return wq[i]; }

// Backward step s handles time t = T-1-s in direction 0 and t = s in direction 1.
fn back_time(d: u32) -> u32 {
  return select(params.T - 1u - params.s, params.s, d == 1u);
}

// Unit j of carry block k of the gin row that starts at vec4 rowq: the blocks (Hp floats each)
// follow the Gp gate gradients; k = 0 is carry_h (the GRU's carry), k = 1 the LSTM's carry_c.
fn carry_in(rowq: u32, k: u32, j: u32) -> f32 {
  return gin[rowq + params.gq + k * params.hq + j / 4u][j % 4u];
}

// Lanes along x: one per quad of hidden units.
fn step_units() -> u32 {
  return (params.H + 3u) / 4u;
}

// acc[b] += the recurrent gradient from the previously handled time (none at the first step)
// for units 4q..4q+3 of the tile's rows: over the gate rows r < Gp (rows r >= G of wq are 0),
// vec4 (d, r, q) of wq at (d * Gp + r) * Hq + q; row n's gate gradients at
// gin[(d * N + n) * rq + r / 4]. nl: the first row the lane loads (see matvec).
fn step_product(acc: ptr<function, array<vec4<f32>, NB_MAX>>, d: u32, nl: u32, q: u32) {
  if (params.s > 0u) {
    let Hq = (params.H + 3u) / 4u;
    matvec(acc, params.gq, d * 4u * params.gq * Hq + q, Hq, params.rq, d, nl);
  }
}

// After the product, acc[b][c] = sum_r dg[tp, n0 + b, r] W_hh[r, 4q + c] (zeros at the first
// step): runs the cell for the units of quad q below H and the rows of the tile below N.
fn step_tile(acc: ptr<function, array<vec4<f32>, NB_MAX>>, d: u32, n0: u32, q: u32) {
  for (var c = 0u; c < 4u; c++) {
    let j = q * 4u + c;
    if (j >= params.H) { break; }
    for (var b = 0u; b < NB; b++) {
      let n = n0 + b;
      if (n >= params.N) { break; }
      backward_row((*acc)[b][c], d, n, j);
    }
  }
}
