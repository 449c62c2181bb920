// The generic variant of the step kernels (lstm-/gru-forward.wgsl, lstm-/gru-backward.wgsl),
// for any adapter: the recurrent product and main. The includer declares `override WG` (lanes
// per workgroup), `override NB` (batch rows per lane) and `const NB_MAX` >= NB (the NB vec4
// sums live in registers), and through step-forward.inc.wgsl or step-backward.inc.wgsl the
// hooks step_units, step_product and step_tile, and mv_vec / mv_mat.
//
// Grid: x over the units u a lane owns (forward: hidden unit j; backward: quad q of units),
// WG per workgroup; y = direction d; z = batch tile of NB rows. A lane owns unit u for the NB
// rows of its tile.

// The recurrent product for one lane and the NB rows n0 + b of its tile (nl = n0):
//   acc[b] += sum over k < 4 kq of  v[(d * N + min(nl + b, N - 1)) * vstride + k / 4][k % 4]
//                                   * m[mbase + k * mstride]
// with v = mv_vec and m = mv_mat. Rows past N (the last tile) read row N-1 and are never
// written. Per 4 k, four vec4 loads of m (neighbouring lanes read neighbouring vec4s) and one
// vec4 of v per row (the same for every lane) feed 16 * NB multiply-adds.
fn matvec(acc: ptr<function, array<vec4<f32>, NB_MAX>>, kq: u32, mbase: u32, mstride: u32, vstride: u32, d: u32, nl: u32) {
  for (var k4 = 0u; k4 < kq; k4++) {
    let k = 4u * k4;
    let w0 = mv_mat(mbase + k * mstride);
    let w1 = mv_mat(mbase + (k + 1u) * mstride);
    let w2 = mv_mat(mbase + (k + 2u) * mstride);
    let w3 = mv_mat(mbase + (k + 3u) * mstride);
    for (var b = 0u; b < NB; b++) {
      let v = mv_vec((d * params.N + min(nl + b, params.N - 1u)) * vstride + k4);
      (*acc)[b] = fma(vec4(v.x), w0, fma(vec4(v.y), w1, fma(vec4(v.z), w2, fma(vec4(v.w), w3, (*acc)[b]))));
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let u = gid.x;
  let d = wid.y;
  let n0 = wid.z * NB;
  if (u >= step_units()) { return; }
  var acc: array<vec4<f32>, NB_MAX>;
  step_product(&acc, d, n0, u);
  step_tile(&acc, d, n0, u);
}
