// The LSTM cell of a forward step (lstm-forward.wgsl's header has the math), shared by
// lstm-forward.wgsl and lstm-forward-sg.wgsl: the forward_row that step-forward.inc.wgsl's
// forward_tile calls. Uses their bindings gx, cs and act, and step-forward.inc.wgsl.

// Unit j, batch row n, time t of direction d, from hh = W_hh h_prev + b_hh (gates i, f, g, o
// in x, y, z, w).
fn forward_row(hh: vec4<f32>, d: u32, t: u32, n: u32, j: u32) {
  let H = params.H;
  let s = params.s;
  let gi = gate_index(d, t, n, j, 4u * H);
  let pre = hh + vec4<f32>(gx[gi], gx[gi + H], gx[gi + 2u * H], gx[gi + 3u * H]);
  let ig = sigmoid(pre.x);
  let fg = sigmoid(pre.y);
  let gg = tanh_(pre.z);
  let og = sigmoid(pre.w);
  // cs is in step order: c_prev in slot s, this step's c in slot s+1.
  let cprev = cs[cs_index(d, s, n, j)];
  let c = fg * cprev + ig * gg;
  let h = og * tanh_(c);
  cs[cs_index(d, s + 1u, n, j)] = c;
  let ai = act_index(d, t, n, j);
  act[ai] = ig;
  act[ai + H] = fg;
  act[ai + 2u * H] = gg;
  act[ai + 3u * H] = og;
  store_h(d, t, n, j, h);
}
