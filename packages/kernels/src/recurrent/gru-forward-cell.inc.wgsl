// The GRU cell of a forward step (gru-forward.wgsl's header has the math), shared by
// gru-forward.wgsl and gru-forward-sg.wgsl: the forward_row that step-forward.inc.wgsl's
// forward_tile calls. Uses their bindings gx, hp and act, and step-forward.inc.wgsl.

// Unit j, batch row n, time t of direction d, from hh = W_hh h_prev + b_hh (gates r, z, n in
// x, y, z; w is 0).
fn forward_row(hh: vec4<f32>, d: u32, t: u32, n: u32, j: u32) {
  let H = params.H;
  let gi = gate_index(d, t, n, j, 3u * H);
  let r = sigmoid(gx[gi] + hh.x);
  let z = sigmoid(gx[gi + H] + hh.y);
  let nn = tanh_(gx[gi + 2u * H] + r * hh.z);
  let hprev = hp[hp_index(d, t, n, j)];
  let h = (1.0 - z) * nn + z * hprev;
  let ai = act_index(d, t, n, j);
  act[ai] = r;
  act[ai + H] = z;
  act[ai + 2u * H] = nn;
  act[ai + 3u * H] = hh.z;
  store_h(d, t, n, j, h);
}
