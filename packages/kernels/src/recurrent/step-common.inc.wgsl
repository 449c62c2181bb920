// Index helpers shared by the LSTM and GRU step kernels, forward and backward (included by
// step-forward.inc.wgsl and step-backward.inc.wgsl). They read the dimensions from the
// includer's `params`, whose Params has at least T, N, H, dirs, stride_g and stride_h (both
// the forward and the backward Params do). Arguments: d = direction, t = time, n = batch row,
// j = hidden unit.

// [dirs][stride_g]: block d is [T, N, G] with G = gates * H (gx forward; dg, dgh backward).
// The index of gate 0 of unit j; gate k is H further on for each k.
fn gate_index(d: u32, t: u32, n: u32, j: u32, G: u32) -> u32 {
  return d * params.stride_g + (t * params.N + n) * G + j;
}

// [dirs, T, N, 4H]: the activations the forward pass saves for backward, time order (LSTM i,
// f, g, o; GRU r, z, n, a). The index of the first of unit j's four.
fn act_index(d: u32, t: u32, n: u32, j: u32) -> u32 {
  return ((d * params.T + t) * params.N + n) * 4u * params.H + j;
}

// [dirs][stride_h]: block d is [T, N, H], hp[d, t] = the h_prev of time t.
fn hp_index(d: u32, t: u32, n: u32, j: u32) -> u32 {
  return d * params.stride_h + (t * params.N + n) * params.H + j;
}

// [T, N, dirs*H]: a layer's output y (and its gradient dy); direction d in columns
// [d*H, (d+1)*H).
fn y_index(d: u32, t: u32, n: u32, j: u32) -> u32 {
  return (t * params.N + n) * params.dirs * params.H + d * params.H + j;
}

// [dirs, T+1, N, H]: the LSTM cell states in forward step order, slot 0 = c0 and slot s+1 = c
// after step s.
fn cs_index(d: u32, slot: u32, n: u32, j: u32) -> u32 {
  return ((d * (params.T + 1u) + slot) * params.N + n) * params.H + j;
}
