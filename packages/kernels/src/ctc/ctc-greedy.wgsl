// Greedy (best-path) CTC decoding of scores [T, N, C] (logits, log-probs or probabilities:
// the argmax is the same): one workgroup per sample n.
//   1. invocations take frames t = lid, lid + WG, ... < T_n and write the frame's argmax
//      (first maximum; a NaN counts as the maximum, like torch.argmax) into tokens[n, t];
//   2. after a barrier, invocation 0 merges repeats and drops blanks in place: the write
//      index k never passes the read index t, so a frame is read before it is overwritten;
//      the rest of the row is padded with -1 and the decoded length goes to lengths[n].
const WG: u32 = 64u;

struct Params {
  t_max: u32,
  n: u32,
  c: u32,
  blank: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;              // [T, N, C]
@group(0) @binding(2) var<storage, read> in_lens: array<i32>;        // [N]
@group(0) @binding(3) var<storage, read_write> tokens: array<i32>;   // [N, T]
@group(0) @binding(4) var<storage, read_write> lengths: array<i32>;  // [N]

//!include "../elementwise/nan.inc.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x;
  let tn = min(u32(max(in_lens[n], 0)), params.t_max);
  let out = n * params.t_max;
  for (var t = lid.x; t < tn; t += WG) {
    let base = (t * params.n + n) * params.c;
    var best = x[base];
    var arg = 0u;
    for (var c = 1u; c < params.c; c++) {
      let v = x[base + c];
      // The first NaN wins and nothing beats it.
      if ((v > best || is_nan(v)) && !is_nan(best)) {
        best = v;
        arg = c;
      }
    }
    tokens[out + t] = i32(arg);
  }
  // Every frame's argmax is in place before invocation 0 reads them.
  storageBarrier();
  if (lid.x != 0u) { return; }
  var k = 0u;
  var prev = -1;
  for (var t = 0u; t < tn; t++) {
    let v = tokens[out + t];
    if (v != i32(params.blank) && v != prev) {
      tokens[out + k] = v;
      k++;
    }
    prev = v;
  }
  for (var t = k; t < params.t_max; t++) { tokens[out + t] = -1; }
  lengths[n] = i32(k);
}
