// The LSTM cell of a backward step (lstm-backward.wgsl's header has the math), shared by
// lstm-backward.wgsl and lstm-backward-sg.wgsl: the backward_row that step-backward.inc.wgsl's
// backward_tile calls. Uses their bindings dy, act, cs, dg and gout, and
// step-backward.inc.wgsl.

// Unit j, batch row n of direction d, given rec = sum_r dg[tp, n, r] W_hh[r, j] (0 at the
// first step).
fn backward_row(rec: f32, d: u32, n: u32, j: u32) {
  let H = params.H;
  let T = params.T;
  let Gp = 4u * params.gq;
  let Hp = 4u * params.hq;
  let rowq = (d * params.N + n) * params.rq; // this row of gin, in vec4s
  let row = 4u * rowq;                       // the same row of gout, in floats
  let carry_h = carry_in(rowq, 0u, j);
  let carry_c = carry_in(rowq, 1u, j);
  if (params.s == T) {
    // The tail: dh0 = carry_h + rec, and dc0 = carry_c is passed on.
    gout[row + Gp + j] = carry_h + rec;
    gout[row + Gp + Hp + j] = carry_c;
    return;
  }
  let t = back_time(d);
  // Forward step index of time t: the slots of c_prev and c in cs.
  let sf = select(t, T - 1u - t, d == 1u);
  let cv = cs[cs_index(d, sf + 1u, n, j)];
  let cprev = cs[cs_index(d, sf, n, j)];
  let ai = act_index(d, t, n, j);
  let ig = act[ai];
  let fg = act[ai + H];
  let gg = act[ai + 2u * H];
  let og = act[ai + 3u * H];
  let dh = dy[y_index(d, t, n, j)] + carry_h + rec;
  let e = exp(-2.0 * abs(cv));
  let tc = select(-1.0, 1.0, cv >= 0.0) * (1.0 - e) / (1.0 + e); // tanh(c), overflow-free
  let dc = carry_c + dh * og * (1.0 - tc * tc);
  let g0 = dc * gg * ig * (1.0 - ig);
  let g1 = dc * cprev * fg * (1.0 - fg);
  let g2 = dc * ig * (1.0 - gg * gg);
  let g3 = dh * tc * og * (1.0 - og);
  let gi = gate_index(d, t, n, j, 4u * H);
  dg[gi] = g0;
  dg[gi + H] = g1;
  dg[gi + 2u * H] = g2;
  dg[gi + 3u * H] = g3;
  gout[row + j] = g0;
  gout[row + H + j] = g1;
  gout[row + 2u * H + j] = g2;
  gout[row + 3u * H + j] = g3;
  gout[row + Gp + j] = 0.0;
  gout[row + Gp + Hp + j] = dc * fg;
}
