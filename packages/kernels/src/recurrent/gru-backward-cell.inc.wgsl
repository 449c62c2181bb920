// The GRU cell of a backward step (gru-backward.wgsl's header has the math), shared by
// gru-backward.wgsl and gru-backward-sg.wgsl: the backward_row that step-backward.inc.wgsl's
// backward_tile calls. Uses their bindings dy, act, hp, dg, dgh and gout, and
// step-backward.inc.wgsl.

// Unit j, batch row n of direction d, given rec = sum_r dgh[tp, n, r] W_hh[r, j] (0 at the
// first step).
fn backward_row(rec: f32, d: u32, n: u32, j: u32) {
  let H = params.H;
  let Gp = 4u * params.gq;
  let rowq = (d * params.N + n) * params.rq; // this row of gin, in vec4s
  let row = 4u * rowq;                       // the same row of gout, in floats
  let carry = carry_in(rowq, 0u, j);
  if (params.s == params.T) {
    // The tail: dh0 = carry + rec.
    gout[row + Gp + j] = carry + rec;
    return;
  }
  let t = back_time(d);
  let ai = act_index(d, t, n, j);
  let r = act[ai];
  let z = act[ai + H];
  let nn = act[ai + 2u * H];
  let a = act[ai + 3u * H];
  let hprev = hp[hp_index(d, t, n, j)];
  let dh = dy[y_index(d, t, n, j)] + carry + rec;
  let dpre_n = dh * (1.0 - z) * (1.0 - nn * nn);
  let dpre_z = dh * (hprev - nn) * z * (1.0 - z);
  let dpre_r = dpre_n * a * r * (1.0 - r);
  let da = dpre_n * r;
  let gi = gate_index(d, t, n, j, 3u * H);
  dg[gi] = dpre_r;
  dg[gi + H] = dpre_z;
  dg[gi + 2u * H] = dpre_n;
  dgh[gi] = dpre_r;
  dgh[gi + H] = dpre_z;
  dgh[gi + 2u * H] = da;
  gout[row + j] = dpre_r;
  gout[row + H + j] = dpre_z;
  gout[row + 2u * H + j] = da;
  gout[row + Gp + j] = dh * z;
}
