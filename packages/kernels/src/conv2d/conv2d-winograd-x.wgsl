// Winograd F(2, 2) along the rows, for convolutions with 2-wide kernels at column stride 1
// (the CRNN's 2x2 layer): every pair of outputs along a row (a "tile") comes from 3 input
// columns with 3 multiplies per (tile, o, c, ky) instead of 4. The kernel's rows (KH of them,
// any row stride and padding) stay a plain sum, folded into the reduction: K = C * KH, with
// k = c * KH + ky.
//
//   U[xi][o][k] = (G g)[xi]        g = (w[o, c, ky, 0], w[o, c, ky, 1])  (`weights`, `weights4`)
//   V[xi][p][k] = (Bᵀ d)[xi]       d = x[n, c, oy*SH + ky - PH, 2*tx - PW + 0..2]  (`input`)
//   M[xi][o][p] = sum_k U[xi][o][k] V[xi][p][k]   3 GEMMs [O, K] x [K, P], done by matmul
//   y[n, o, oy, 2*tx + i] = (Aᵀ M[.][o][p])[i] + bias[o]                (`output`, `output4`)
//
//   G = [1 0; 1 1; 0 1]      Bᵀ = [1 -1 0; 0 1 0; 0 -1 1]      Aᵀ = [1 1 0; 0 1 1]
//
// (Toom-Cook at the points 0, 1 and infinity: y0 = w0 (d0 - d1) + (w0 + w1) d1 = w0 d0 + w1 d1,
// y1 = (w0 + w1) d1 + w1 (d2 - d1) = w0 d1 + w1 d2.) Output 0 of a tile reads V0 and V1, which
// hold d0 and d1 only, and output 1 reads V1 and V2, which hold d1 and d2 only: a NaN reaches
// the same outputs as in the direct form. (F(3, 2) does 4 multiplies per 3 outputs but mixes
// d2 into output 0, and its GEMMs were no faster on the 512 -> 512 2x2 layer: 4 of [512, 1024]
// x [64, 1024]ᵀ took 17.4 ms against 17.7 for the 3 of [512, 1024] x [96, 1024]ᵀ, lavapipe,
// medians of 20.) An infinity can come out as NaN where the direct form gives +-inf (inf - inf
// in V or U).
//
// Tiles are numbered (n * OH + oy) * TW + tx with TW = ceil(OW / 2); a chunk holds tiles
// p0 .. p0 + PQ - 1 as p = 0 .. PQ - 1 (PQ a multiple of 4; tiles past the batch's last are
// zeros in V and never stored). U and V rows hold KQ = K rounded up to whole vec4 (the padding
// zeros in both), so every access to them is an aligned vec4: on lavapipe a storage access
// with a computed index runs lane by lane, and its cost is per access more than per float.
// The xi-planes of V, M and U start SV, SM, SU floats apart (multiples of 64, so that matmul
// binds each plane as its own view at the 256-byte offset alignment). dw, by the transposed
// algorithm, is at the end of the file.

override HAS_BIAS: u32 = 0u;  // output, output4

struct Params {
  n: u32,
  c: u32,
  h: u32,
  w: u32,
  o: u32,
  kh: u32,
  sh: u32,
  ph: u32,
  pw: u32,
  oh: u32,
  ow: u32,
  tw: u32,     // tiles per output row: ceil(OW / 2)
  kq: u32,     // C * KH rounded up to a multiple of 4: the row length of U and V
  pq: u32,     // tiles per chunk (a multiple of 4): rows of V, columns of M
  sv: u32,     // floats between xi-planes of V
  sm: u32,     // ... of M (dw: of E, the same size)
  su: u32,     // ... of U (dw: of N, the same size)
  count: u32,  // invocations that do work
  p0: u32,     // the chunk's first tile
}

@group(0) @binding(0) var<uniform> params: Params;

fn tiles() -> u32 {
  return params.n * params.oh * params.tw;
}

// Image n, output row oy and first output column ox = 2*tx of tile `tile` (< tiles()).
fn tile_pos(tile: u32) -> vec3<u32> {
  let per_image = params.oh * params.tw;
  return vec3(tile / per_image, (tile % per_image) / params.tw, 2u * (tile % params.tw));
}

// Index of output 0 of tile `tile` in channel o of an [N, O, OH, OW] tensor (y, or dy).
fn out_at(tile: u32, o: u32) -> u32 {
  let t = tile_pos(tile);
  return ((t.x * params.o + o) * params.oh + t.y) * params.ow + t.z;
}

// ---- weights: U from w [O, C, KH, 2] ---------------------------------------------------------
// Invocation (o, k4), k4 = id % (KQ/4): the taps of k = 4*k4 .. 4*k4+3, which are the 8
// consecutive floats from 2 * (o*K + 4*k4) of w (tap kx of (o, k) is float 2 * (o*K + k) + kx):
// two aligned vec4 where K % 4 == 0 (`weights4`), else one float at a time with zeros past K
// (`weights`).

@group(0) @binding(1) var<storage, read> wt4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
// The planes every transform writes (U, V, Vt, E), as vec4.
@group(0) @binding(2) var<storage, read_write> planes4: array<vec4<f32>>;

// (a, a + b, b) into planes4 at `at`, planes s vec4 apart: G applied to the taps (U = G g) and
// A = Aᵀᵀ to a tile's two dy values (E = A e); the two matrices are the same, [1 0; 1 1; 0 1].
fn store_g(at: u32, s: u32, a: vec4<f32>, b: vec4<f32>) {
  planes4[at] = a;
  planes4[at + s] = a + b;
  planes4[at + 2u * s] = b;
}

const NO_TAP: u32 = 0xffffffffu;

// Invocation (o, k4) = id of `weights` / `dw_out` (k4 = id % (KQ/4)): the float index of tap 0
// of k = 4*k4 + j in w or dw [O, C, KH, 2] (tap kx of (o, k) is float 2 * (o*K + k) + kx), or
// NO_TAP for k past K.
fn tap0(id: u32, j: u32) -> u32 {
  let groups = params.kq / 4u;
  let k = 4u * (id % groups) + j;
  let kk = params.c * params.kh;
  if (k >= kk) { return NO_TAP; }
  return 2u * ((id / groups) * kk + k);
}

@compute @workgroup_size(64)
fn weights4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  // K == KQ here, so w's floats 8*id .. 8*id+7 are the taps of invocation id's 4 k's.
  let q0 = wt4[2u * id];
  let q1 = wt4[2u * id + 1u];
  // U's vec4 is (o*KQ + k0)/4 = id in each plane.
  store_g(id, params.su / 4u, vec4(q0.x, q0.z, q1.x, q1.z), vec4(q0.y, q0.w, q1.y, q1.w));
}

@compute @workgroup_size(64)
fn weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  var g0 = vec4(0.0);
  var g1 = vec4(0.0);
  for (var j = 0u; j < 4u; j++) {
    let f = tap0(id, j);
    if (f == NO_TAP) { break; }
    g0[j] = wt[f];
    g1[j] = wt[f + 1u];
  }
  store_g(id, params.su / 4u, g0, g1);
}

// ---- input: V from x [N, C, H, W] ------------------------------------------------------------
// Invocation (p, k4), k4 = id % (KQ/4): the 3 input columns of tile p for k = 4*k4 .. +3, each
// read with its bounds test (the zero padding), stored as one vec4 per plane.

@group(0) @binding(1) var<storage, read> x: array<f32>;

fn x_at(plane: u32, iy: i32, ix: i32) -> f32 {
  if (iy < 0 || ix < 0 || iy >= i32(params.h) || ix >= i32(params.w)) { return 0.0; }
  return x[plane * params.h * params.w + u32(iy) * params.w + u32(ix)];
}

// Columns 2*tx - PW + 0..2 of input row oy*SH + ky - PH in channel c (k = c*KH + ky) of tile
// `tile`'s image: (d0, d1, d2), zeros outside x, for k past K and for tiles past the batch's last.
fn column3(tile: u32, k: u32) -> vec3<f32> {
  if (tile >= tiles() || k >= params.c * params.kh) { return vec3(0.0); }
  let t = tile_pos(tile);
  let ix = i32(t.z) - i32(params.pw);
  let plane = t.x * params.c + k / params.kh;
  let iy = i32(t.y * params.sh + k % params.kh) - i32(params.ph);
  return vec3(x_at(plane, iy, ix), x_at(plane, iy, ix + 1), x_at(plane, iy, ix + 2));
}

// V at planes4[at] (planes SV/4 vec4 apart) for 4 (tile, k) pairs, one per vec4 component: pair j
// is (tile0 + j * dt, k0 + j * dk). Each plane gets Bᵀ of the pairs' 3 columns.
fn store_v(tile0: u32, dt: u32, k0: u32, dk: u32, at: u32) {
  var d0 = vec4(0.0);
  var d1 = vec4(0.0);
  var d2 = vec4(0.0);
  for (var j = 0u; j < 4u; j++) {
    let d = column3(tile0 + j * dt, k0 + j * dk);
    d0[j] = d.x;
    d1[j] = d.y;
    d2[j] = d.z;
  }
  let s = params.sv / 4u;
  planes4[at] = d0 - d1;
  planes4[at + s] = d1;
  planes4[at + 2u * s] = d2 - d1;
}

@compute @workgroup_size(64)
fn input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let groups = params.kq / 4u;
  // V[xi][p][k0 .. k0+3] is vec4 (p * KQ + k0) / 4 = id of its plane.
  store_v(params.p0 + id / groups, 0u, 4u * (id % groups), 1u, id);
}

// ---- output: y from M ------------------------------------------------------------------------
// Invocation (o, p4), p4 = id % (PQ/4): tiles 4*p4 .. 4*p4+3 of output channel o, one vec4 of
// each M plane (M[xi] is [O, PQ], so the 4 tiles are consecutive floats).

@group(0) @binding(1) var<storage, read> m4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;

struct Pairs {
  o: u32,
  t0: u32,        // the first of the 4 tiles (of the batch)
  y0: vec4<f32>,  // output 0 of each tile (bias added)
  y1: vec4<f32>,  // output 1
}

fn pairs(id: u32) -> Pairs {
  let groups = params.pq / 4u;
  let o = id / groups;
  let p4 = id % groups;
  let s = params.sm / 4u;
  let at = (o * params.pq) / 4u + p4;
  let m0 = m4[at];
  let m1 = m4[at + s];
  let m2 = m4[at + 2u * s];
  var b = 0.0;
  if (HAS_BIAS == 1u) { b = bias[o]; }
  return Pairs(o, params.p0 + 4u * p4, m0 + m1 + b, m1 + m2 + b);
}

// Any OW: each tile's outputs stored one float at a time, output 1 only inside the row.
@compute @workgroup_size(64)
fn output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let r = pairs(id);
  for (var j = 0u; j < 4u; j++) {
    let tile = r.t0 + j;
    if (tile >= tiles()) { return; }
    let at = out_at(tile, r.o);
    y[at] = r.y0[j];
    if (tile_pos(tile).z + 1u < params.ow) { y[at + 1u] = r.y1[j]; }
  }
}

// OW % 8 == 0: TW % 4 == 0, so the 4 tiles (t0 a multiple of 4, as every chunk starts at one)
// are 8 consecutive outputs of one row starting at a multiple of 8: two aligned vec4.
@compute @workgroup_size(64)
fn output4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let r = pairs(id);
  if (r.t0 >= tiles()) { return; }
  let at = out_at(r.t0, r.o) / 4u;
  y4[at] = vec4(r.y0.x, r.y1.x, r.y0.y, r.y1.y);
  y4[at + 1u] = vec4(r.y0.z, r.y1.z, r.y0.w, r.y1.w);
}

// ---- dw: the weight gradient by the transposed algorithm ---------------------------------------
// Differentiating y = Aᵀ[(G g) ⊙ (Bᵀ d)] against g gives, per tile, dw = Gᵀ[(A e) ⊙ (Bᵀ d)]
// with e = the tile's 2 outputs of dy, so
//
//   E[xi][o][p] = (A e)[xi]          A = Aᵀᵀ = [1 0; 1 1; 0 1]                      (`dy_t`)
//   Vt[xi][k][p] = (Bᵀ d)[xi]        the forward's V, tiles along rows               (`input_t`)
//   N[xi][o][k] = sum_p E[xi][o][p] Vt[xi][k][p]   3 GEMMs [O, PQ] x [PQ, KQ], summed over the
//                                                   chunks of tiles by matmul
//   dw[o, c, ky, 0..1] = Gᵀ N[.][o][k]   Gᵀ = [1 1 0; 0 1 1]                (`dw_out`, `dw_out4`)
//
// E and Vt hold the tiles along rows (PQ per chunk), so matmul reads E as A [O, PQ] in place
// and copies Vt as Bᵀ [KQ, PQ] into its window without transposing. E's planes are SM apart
// (the forward's M has the same size), Vt's SV, N's SU (the size of U).

// Invocation (o, p4): tiles 4*p4 .. 4*p4+3 of dy's channel o (binding 1, read through `x`).
@compute @workgroup_size(64)
fn dy_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let groups = params.pq / 4u;
  let o = id / groups;
  let p4 = id % groups;
  var e0 = vec4(0.0);
  var e1 = vec4(0.0);
  for (var j = 0u; j < 4u; j++) {
    let tile = params.p0 + 4u * p4 + j;
    if (tile >= tiles()) { break; }
    let at = out_at(tile, o);
    e0[j] = x[at];
    if (tile_pos(tile).z + 1u < params.ow) { e1[j] = x[at + 1u]; }
  }
  store_g((o * params.pq) / 4u + p4, params.sm / 4u, e0, e1);
}

// Invocation (k, p4): the 3 columns of tiles 4*p4 .. 4*p4+3 for reduction index k.
@compute @workgroup_size(64)
fn input_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let groups = params.pq / 4u;
  // Vt[xi][k][4*p4 .. 4*p4+3] is vec4 (k * PQ + 4 * p4) / 4 = id of its plane.
  store_v(params.p0 + 4u * (id % groups), 1u, id / groups, 0u, id);
}

override ACCUMULATE: u32 = 0u; // dw_out, dw_out4: add into dw instead of overwriting it

@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw4: array<vec4<f32>>;

// Gᵀ N for the 4 k's of invocation (o, k4) = id: taps 0 and 1.
fn dw_taps(id: u32) -> array<vec4<f32>, 2> {
  let s = params.su / 4u;
  let n1 = m4[id + s];
  return array<vec4<f32>, 2>(m4[id] + n1, n1 + m4[id + 2u * s]);
}

// K % 4 == 0: the 4 k's taps are dw's floats 8*id .. 8*id+7, two aligned vec4.
@compute @workgroup_size(64)
fn dw_out4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let g = dw_taps(id);
  var a = vec4(g[0].x, g[1].x, g[0].y, g[1].y);
  var b = vec4(g[0].z, g[1].z, g[0].w, g[1].w);
  if (ACCUMULATE == 1u) {
    a += dw4[2u * id];
    b += dw4[2u * id + 1u];
  }
  dw4[2u * id] = a;
  dw4[2u * id + 1u] = b;
}

@compute @workgroup_size(64)
fn dw_out(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= params.count) { return; }
  let g = dw_taps(id);
  for (var j = 0u; j < 4u; j++) {
    let f = tap0(id, j);
    if (f == NO_TAP) { break; }
    var a = g[0][j];
    var b = g[1][j];
    if (ACCUMULATE == 1u) {
      a += dw[f];
      b += dw[f + 1u];
    }
    dw[f] = a;
    dw[f + 1u] = b;
  }
}
