// The subgroup variant of the step kernels (lstm-/gru-forward-sg.wgsl, lstm-/gru-backward-
// sg.wgsl), for adapters with subgroups of 8+ lanes (made for lavapipe; 'auto' takes it on
// GPUs too): the recurrent product and main.
// The includer starts with `enable subgroups;`, declares `const NB: u32 = 8u` and
// `const NB_MAX: u32 = NB`, and through step-forward.inc.wgsl or step-backward.inc.wgsl the
// hooks step_units, step_product and step_tile, and mv_vec / mv_mat.
//
// Grid: x over blocks of 8 units u (forward: hidden units j; backward: quads q of units),
// y = direction d, z = batch tile of 8 rows. Workgroup = one 8-lane subgroup; lane l owns unit
// 8x + l for the 8 rows of the tile.

// acc[b] += (the value lane b loaded) * wv, for b < 8: every lane loads one row's value and
// subgroupBroadcast hands it to all lanes, so each value is loaded once per subgroup (lavapipe
// runs storage loads lane by lane; a broadcast is one register shuffle).
fn fma8(acc: ptr<function, array<vec4<f32>, NB_MAX>>, v: f32, wv: vec4<f32>) {
  (*acc)[0] = fma(vec4(subgroupBroadcast(v, 0u)), wv, (*acc)[0]);
  (*acc)[1] = fma(vec4(subgroupBroadcast(v, 1u)), wv, (*acc)[1]);
  (*acc)[2] = fma(vec4(subgroupBroadcast(v, 2u)), wv, (*acc)[2]);
  (*acc)[3] = fma(vec4(subgroupBroadcast(v, 3u)), wv, (*acc)[3]);
  (*acc)[4] = fma(vec4(subgroupBroadcast(v, 4u)), wv, (*acc)[4]);
  (*acc)[5] = fma(vec4(subgroupBroadcast(v, 5u)), wv, (*acc)[5]);
  (*acc)[6] = fma(vec4(subgroupBroadcast(v, 6u)), wv, (*acc)[6]);
  (*acc)[7] = fma(vec4(subgroupBroadcast(v, 7u)), wv, (*acc)[7]);
}

// The recurrent product for the 8 rows b of the tile, in every lane:
//   acc[b] += sum over k < 4 kq of  v_b[k] * m[mbase + k * mstride]
// with v = mv_vec and m = mv_mat, where lane b passes nl = n0 + b and v_b is the vector of row
// nl (clamped to N-1): v_b[k] = v[(d * N + nl) * vstride + k / 4][k % 4]. Per 4 k a lane loads
// one vec4 of its row's v and its own four vec4s of m; broadcasts give every lane all 8 rows'
// values, so 5 loads feed 128 multiply-adds. All 8 lanes must call it.
fn matvec(acc: ptr<function, array<vec4<f32>, NB_MAX>>, kq: u32, mbase: u32, mstride: u32, vstride: u32, d: u32, nl: u32) {
  let vrow = (d * params.N + min(nl, params.N - 1u)) * vstride;
  for (var k4 = 0u; k4 < kq; k4++) {
    let k = 4u * k4;
    let v = mv_vec(vrow + k4);
    fma8(acc, v.x, mv_mat(mbase + k * mstride));
    fma8(acc, v.y, mv_mat(mbase + (k + 1u) * mstride));
    fma8(acc, v.z, mv_mat(mbase + (k + 2u) * mstride));
    fma8(acc, v.w, mv_mat(mbase + (k + 3u) * mstride));
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  // No early return before the product: subgroupBroadcast needs all 8 lanes. Units past the
  // last and rows past N load clamped indices and are never written.
  let uu = wid.x * 8u + lane;
  let u = min(uu, step_units() - 1u);
  let d = wid.y;
  let n0 = wid.z * NB;
  var acc: array<vec4<f32>, NB_MAX>;
  step_product(&acc, d, n0 + lane, u);
  if (uu >= step_units()) { return; }
  step_tile(&acc, d, n0, u);
}
