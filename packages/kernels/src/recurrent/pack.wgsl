// Repacks one direction's recurrent weights W_hh [G*H, H] (PyTorch layout, gate blocks of H
// rows; G = 4 for LSTM i,f,g,o and 3 for GRU r,z,n) into vec4s for the step kernels. With
// Hp = H and Gp = G*H rounded up to multiples of 4:
//
// MODE 0 (forward): all gates of one hidden unit j at one k in one vec4 (4th lane 0 when
//   G = 3); rows k in [H, Hp) are zeros so the step kernel can walk k four at a time; then the
//   b_hh gates of every unit:
//     out[(d*Hp + k)*H + j]    = (W[0H+j, k], W[1H+j, k], W[2H+j, k], W[3H+j, k])
//     out[dirs*Hp*H + d*H + j] = (b[0H+j], b[1H+j], b[2H+j], b[3H+j])
//   The forward lane for unit j walks k: neighbouring lanes read neighbouring vec4s.
// MODE 1 (backward): each row r of W_hh cut into Hq = Hp/4 quads of 4 hidden units; units
//   past H and rows r in [G*H, Gp) are zeros:
//     out[(d*Gp + r)*Hq + q]   = (W[r, 4q], W[r, 4q+1], W[r, 4q+2], W[r, 4q+3])
//   The backward lane for units 4q..4q+3 walks r (dh = dg W_hh sums over rows).
// One invocation per output vec4; the index e is folded into 2-D by Runtime.grid():
// e = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 256;
override G: u32 = 4;
override MODE: u32 = 0;

struct Params {
  H: u32,
  d: u32,
  dirs: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> wsrc: array<f32>;
@group(0) @binding(2) var<storage, read> bsrc: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  let hq = (H + 3u) / 4u;
  let hp = 4u * hq;
  var v = vec4<f32>(0.0);
  if (MODE == 1u) {
    let rows = G * H;
    let gp = (rows + 3u) / 4u * 4u;
    if (e >= gp * hq) { return; }
    let r = e / hq;
    let j = (e - r * hq) * 4u;
    if (r < rows) {
      v.x = wsrc[r * H + j];
      if (j + 1u < H) { v.y = wsrc[r * H + j + 1u]; }
      if (j + 2u < H) { v.z = wsrc[r * H + j + 2u]; }
      if (j + 3u < H) { v.w = wsrc[r * H + j + 3u]; }
    }
    dst[params.d * gp * hq + e] = v;
    return;
  }
  let body = hp * H;
  if (e >= body + H) { return; }
  if (e < body) {
    let k = e / H;
    let j = e - k * H;
    // Gate q's row for unit j is q*H + j.
    if (k < H) {
      v.x = wsrc[j * H + k];
      v.y = wsrc[(H + j) * H + k];
      v.z = wsrc[(2u * H + j) * H + k];
      if (G == 4u) { v.w = wsrc[(3u * H + j) * H + k]; }
    }
    dst[params.d * body + e] = v;
  } else {
    let j = e - body;
    v.x = bsrc[j];
    v.y = bsrc[H + j];
    v.z = bsrc[2u * H + j];
    if (G == 4u) { v.w = bsrc[3u * H + j]; }
    dst[params.dirs * body + params.d * H + j] = v;
  }
}
