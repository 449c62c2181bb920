// Winograd F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2015) for 3x3 stride-1 convolutions on a zero-padded input xp [N, C, HP, WP]: every 2x2 block
// of outputs (a "tile") comes from the 4x4 input block at rows 2*ty .. 2*ty+3 and columns
// 2*tx .. 2*tx+3 of xp, with 16 multiplies per (tile, o, c) instead of the 36 of the direct form:
//
//   U[xi][o][c] = (G g Gᵀ)[xi]      g = the 3x3 filter w[o, c]     (entry point `weights`)
//   V[xi][p][c] = (Bᵀ d Bᵀᵀ)[xi]    d = the 4x4 input block of tile p in channel c  (`input`)
//   M[xi][p][o] = sum_c V[xi][p][c] U[xi][o][c]   16 GEMMs [P, C] x [C, O], done by matmul
//   y[tile p, o] = Aᵀ M[.][p][o] A  (a 2x2 block)  + bias[o]                       (`output`)
//
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]
//
// xi = 4*i + j indexes the 4x4 transformed block (row i, column j). Tiles are numbered
// (n * TH + ty) * TW + tx with TH = ceil(OH / 2), TW = ceil(OW / 2), and V and M hold a chunk
// of them, tiles p0 .. p0 + P - 1 as rows p = 0 .. P - 1 (the wrapper cuts the batch into
// chunks when all tiles' V or M would exceed a storage binding); xp has at least
// 2*TH + 2 rows and 2*TW + 2 columns (WP even), so no tile reads outside it. The 4x4 products
// are separable: a transform is applied to the columns of a block, then to its rows.
//
// Every invocation handles 4 consecutive channels as one vec4 (C % 4 == 0 and O % 4 == 0: the
// wrapper checks), so V, M and U are read and written as aligned vec4: on lavapipe a storage
// access with a computed index runs lane by lane, and its cost is per access more than per
// component. The xi-planes of V, M and U start SV, SM, SU floats apart (multiples of 64, so
// that matmul can bind each plane as its own view at the 256-byte offset alignment).
//
// Rounding: the transforms only add, subtract and halve, so the sums differ from the direct
// form's by a few ulps. Each output of a tile depends on its own 3x3 window only (row 0 of Aᵀ
// skips the last row of the block, row 1 the first; Bᵀ's rows 0-2 read d's rows 0-2 and its
// rows 1-3 d's rows 1-3), so a NaN reaches the same outputs as in the direct form; an
// infinity can come out as NaN where the direct form gives +-inf (inf - inf in V).

override HAS_BIAS: u32 = 0u;  // output

struct Params {
  n: u32,
  c: u32,    // input channels of this convolution
  o: u32,    // output channels
  th: u32,   // tiles per column: ceil(OH / 2)
  tw: u32,   // tiles per row: ceil(OW / 2)
  hp: u32,   // rows of xp
  wp: u32,   // columns of xp (even)
  oh: u32,
  ow: u32,
  sv: u32,   // floats between xi-planes of V
  sm: u32,   // ... of M (dw entries: PP, tiles per row of E and V)
  su: u32,   // ... of U
  count: u32,  // invocations that do work: (tiles or O) * (C or O) / 4
  p0: u32,     // input / output: the first tile of this chunk (V and M hold tiles p0 ..)
}

@group(0) @binding(0) var<uniform> params: Params;

// G applied to a 3-vector (three taps, as vec4 over 4 channels).
fn g3(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> array<vec4<f32>, 4> {
  let h = 0.5 * (a + c);
  let k = 0.5 * b;
  return array<vec4<f32>, 4>(a, h + k, h - k, c);
}

// Bᵀ applied to a 4-vector.
fn b4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(a - c, b + c, c - b, b - d);
}

// Invocation k of `input` / `output` handles channels ch0 .. ch0+3 (of `channels`) of the
// chunk's tile p, which is tile p0 + p of the batch: image n, tile row ty, tile column tx.
struct Tile {
  ch0: u32,
  p: u32,
  n: u32,
  ty: u32,
  tx: u32,
}

fn locate(k: u32, channels: u32) -> Tile {
  let groups = channels / 4u;
  let p = k / groups;
  let tile = params.p0 + p;
  let per_image = params.th * params.tw;
  return Tile(4u * (k % groups), p, tile / per_image, (tile % per_image) / params.tw, tile % params.tw);
}

// ---- weights: U from w ---------------------------------------------------------------------
// Invocation (o, c4) with c4 = k % (C/4), o = k / (C/4) transforms the filters of output
// channel o and input channels c0 = 4*c4 .. c0+3: `weights` for w [O, C, 3, 3], where those 4
// filters are 36 consecutive floats, 9 aligned vec4 (o*C + c0 is a multiple of 4);
// `weights_flip` (dx) for the forward's w [C, O, 3, 3], used transposed and rotated by 180
// degrees, whose 4 filters lie O*9 floats apart and are read one float at a time.

@group(0) @binding(1) var<storage, read> wt4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> u4: array<vec4<f32>>;

// U from the 9 taps (row-major ky, kx), each a vec4 over channels c0 .. c0+3 of output
// channel o; written at U[xi][o][c0] = u4[(o*C + c0)/4 + xi * SU/4].
fn transform_weights(g: array<vec4<f32>, 9>, o: u32, c0: u32) {
  let base = (o * params.c + c0) / 4u;
  // Columns first: t[kx] = G (g[0][kx], g[1][kx], g[2][kx]); then row i of U is G (t0[i], t1[i], t2[i]).
  let t0 = g3(g[0], g[3], g[6]);
  let t1 = g3(g[1], g[4], g[7]);
  let t2 = g3(g[2], g[5], g[8]);
  let s = params.su / 4u;
  for (var i = 0u; i < 4u; i++) {
    let r = g3(t0[i], t1[i], t2[i]);
    let at = base + 4u * i * s;
    u4[at] = r[0];
    u4[at + s] = r[1];
    u4[at + 2u * s] = r[2];
    u4[at + 3u * s] = r[3];
  }
}

@compute @workgroup_size(64)
fn weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let o = k / (params.c / 4u);
  let c0 = 4u * (k % (params.c / 4u));
  // q holds filter j's tap t at float 9*j + t; g[t] gathers tap t of the 4 filters.
  let at = (o * params.c + c0) * 9u / 4u;
  let q0 = wt4[at];
  let q1 = wt4[at + 1u];
  let q2 = wt4[at + 2u];
  let q3 = wt4[at + 3u];
  let q4 = wt4[at + 4u];
  let q5 = wt4[at + 5u];
  let q6 = wt4[at + 6u];
  let q7 = wt4[at + 7u];
  let q8 = wt4[at + 8u];
  let g = array<vec4<f32>, 9>(
    vec4(q0.x, q2.y, q4.z, q6.w),  // floats 0, 9, 18, 27
    vec4(q0.y, q2.z, q4.w, q7.x),
    vec4(q0.z, q2.w, q5.x, q7.y),
    vec4(q0.w, q3.x, q5.y, q7.z),
    vec4(q1.x, q3.y, q5.z, q7.w),
    vec4(q1.y, q3.z, q5.w, q8.x),
    vec4(q1.z, q3.w, q6.x, q8.y),
    vec4(q1.w, q4.x, q6.y, q8.z),
    vec4(q2.x, q4.y, q6.z, q8.w),  // floats 8, 17, 26, 35
  );
  transform_weights(g, o, c0);
}

@compute @workgroup_size(64)
fn weights_flip(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let o = k / (params.c / 4u);
  let c0 = 4u * (k % (params.c / 4u));
  // Tap (ky, kx) of filter (o, c) is w[c, o, 2 - ky, 2 - kx]: float (c*O + o)*9 + 8 - t.
  var g: array<vec4<f32>, 9>;
  let at = (c0 * params.o + o) * 9u + 8u;
  let step = params.o * 9u;
  for (var t = 0u; t < 9u; t++) {
    g[t] = vec4(wt[at - t], wt[at + step - t], wt[at + 2u * step - t], wt[at + 3u * step - t]);
  }
  transform_weights(g, o, c0);
}

// ---- input: V from xp ----------------------------------------------------------------------
// Invocation (p, c4) with c4 = k % (C/4), p = k / (C/4) transforms the block of tile p in
// channels 4*c4 .. 4*c4+3. A block row is two aligned vec2 of xp (2*tx and WP are even).

@group(0) @binding(1) var<storage, read> xp2: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> v4: array<vec4<f32>>;

// Row r of the block in the 4 channels, as 4 columns of vec4 (one component per channel).
fn block_row(plane0: u32, row: u32, col2: u32) -> array<vec4<f32>, 4> {
  let pl = params.hp * params.wp / 2u;  // vec2s per channel plane
  let at = plane0 * pl + row * (params.wp / 2u) + col2;
  let a0 = xp2[at];
  let a1 = xp2[at + 1u];
  let b0 = xp2[at + pl];
  let b1 = xp2[at + pl + 1u];
  let c0 = xp2[at + 2u * pl];
  let c1 = xp2[at + 2u * pl + 1u];
  let d0 = xp2[at + 3u * pl];
  let d1 = xp2[at + 3u * pl + 1u];
  return array<vec4<f32>, 4>(
    vec4(a0.x, b0.x, c0.x, d0.x),
    vec4(a0.y, b0.y, c0.y, d0.y),
    vec4(a1.x, b1.x, c1.x, d1.x),
    vec4(a1.y, b1.y, c1.y, d1.y),
  );
}

// V = Bᵀ d B of a 4x4 block d (d[i][s]: row i, column s, each a vec4 over 4 channels or 4
// tiles), stored as 16 vec4 at v4[base + xi * SV/4].
fn store_v(d: array<array<vec4<f32>, 4>, 4>, base: u32) {
  // Columns first: t[s] = Bᵀ (d[0][s] .. d[3][s]); then row i of V is Bᵀ (t0[i] .. t3[i]).
  let t0 = b4(d[0][0], d[1][0], d[2][0], d[3][0]);
  let t1 = b4(d[0][1], d[1][1], d[2][1], d[3][1]);
  let t2 = b4(d[0][2], d[1][2], d[2][2], d[3][2]);
  let t3 = b4(d[0][3], d[1][3], d[2][3], d[3][3]);
  let s = params.sv / 4u;
  for (var i = 0u; i < 4u; i++) {
    let r = b4(t0[i], t1[i], t2[i], t3[i]);
    let at = base + 4u * i * s;
    v4[at] = r[0];
    v4[at + s] = r[1];
    v4[at + 2u * s] = r[2];
    v4[at + 3u * s] = r[3];
  }
}

@compute @workgroup_size(64)
fn input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let t = locate(k, params.c);
  let plane0 = t.n * params.c + t.ch0;
  let r0 = block_row(plane0, 2u * t.ty, t.tx);
  let r1 = block_row(plane0, 2u * t.ty + 1u, t.tx);
  let r2 = block_row(plane0, 2u * t.ty + 2u, t.tx);
  let r3 = block_row(plane0, 2u * t.ty + 3u, t.tx);
  store_v(array<array<vec4<f32>, 4>, 4>(r0, r1, r2, r3), (t.p * params.c + t.ch0) / 4u);
}

// ---- output: y from M ----------------------------------------------------------------------
// Invocation (p, o4) with o4 = k % (O/4), p = k / (O/4) writes the 2x2 outputs of tile p in
// channels 4*o4 .. 4*o4+3 (those inside OH x OW), plus the bias.

@group(0) @binding(1) var<storage, read> m4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn m_row(at: u32, s: u32) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(m4[at], m4[at + s], m4[at + 2u * s], m4[at + 3u * s]);
}

// The 4x4 block of M at `at` (planes s vec4 apart): rows i = 0..3, each m_row of planes 4i..4i+3.
fn m_block(at: u32, s: u32) -> array<array<vec4<f32>, 4>, 4> {
  return array<array<vec4<f32>, 4>, 4>(m_row(at, s), m_row(at + 4u * s, s), m_row(at + 8u * s, s), m_row(at + 12u * s, s));
}

// Aᵀ applied to a 4-vector: two values.
fn a4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> array<vec4<f32>, 2> {
  return array<vec4<f32>, 2>(a + b + c, b - c - d);
}

fn store4(at: u32, plane: u32, v: vec4<f32>) {
  y[at] = v.x;
  y[at + plane] = v.y;
  y[at + 2u * plane] = v.z;
  y[at + 3u * plane] = v.w;
}

@compute @workgroup_size(64)
fn output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let t = locate(k, params.o);
  let o0 = t.ch0;
  let s = params.sm / 4u;
  let base = (t.p * params.o + o0) / 4u;
  // Rows i of M (4 vec4 each, xi = 4i .. 4i+3), reduced over i by Aᵀ, then over j.
  let mb = m_block(base, s);
  let c0 = a4(mb[0][0], mb[1][0], mb[2][0], mb[3][0]);
  let c1 = a4(mb[0][1], mb[1][1], mb[2][1], mb[3][1]);
  let c2 = a4(mb[0][2], mb[1][2], mb[2][2], mb[3][2]);
  let c3 = a4(mb[0][3], mb[1][3], mb[2][3], mb[3][3]);
  let top = a4(c0[0], c1[0], c2[0], c3[0]);
  let bottom = a4(c0[1], c1[1], c2[1], c3[1]);
  var b = vec4(0.0);
  if (HAS_BIAS == 1u) { b = bias4[o0 / 4u]; }
  let plane = params.oh * params.ow;
  let oy = 2u * t.ty;
  let ox = 2u * t.tx;
  let at = (t.n * params.o + o0) * plane + oy * params.ow + ox;
  let right = ox + 1u < params.ow;
  store4(at, plane, top[0] + b);
  if (right) { store4(at + 1u, plane, top[1] + b); }
  if (oy + 1u < params.oh) {
    store4(at + params.ow, plane, bottom[0] + b);
    if (right) { store4(at + params.ow + 1u, plane, bottom[1] + b); }
  }
}

// ---- dw: the weight gradient by the transposed algorithm, F(3x3, 2x2) ---------------------
// dw[o, c] (3x3) = sum over tiles of the correlation of the tile's 2x2 block of dy with its
// 4x4 block of xp. Differentiating y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A against g gives, per tile,
//
//   dw = Gᵀ [(A e Aᵀ) ⊙ (Bᵀ d B)] G      e = the tile's 2x2 block of dy
//
// so V is the forward's input transform on the same tiles (`input_t`, below), E[xi][o][p] =
// (A e Aᵀ)[xi] comes from dy (`dy_tiles_t`), 16 GEMMs [O, P] x [P, C] sum over the tiles
// (matmul, accumulating over chunks of tiles), and `dw_out` applies Gᵀ . G to M[xi][o][c].
//
//   A = Aᵀᵀ = [1 0; 1 1; 1 -1; 0 -1]     Gᵀ = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> e4: array<vec4<f32>>;

// A applied to a 2-vector.
fn a2(a: vec4<f32>, b: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(a, a + b, a - b, -b);
}

override ACCUMULATE: u32 = 0u; // dw_out: add into dw instead of overwriting it

// M is read through `output`'s m4 (binding 1) and m_row.
@group(0) @binding(2) var<storage, read_write> dw4: array<vec4<f32>>;

// Gᵀ applied to a 4-vector: three values.
fn gt4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> array<vec4<f32>, 3> {
  let h = 0.5 * (b + c);
  return array<vec4<f32>, 3>(a + h, 0.5 * (b - c), h + d);
}

// Invocation (o, c4), as in `weights`: M[xi][o][c0 .. c0+3] (planes SU apart, rows of C) to
// the 4 filters' 36 consecutive floats of dw [O, C, 3, 3], 9 aligned vec4.
@compute @workgroup_size(64)
fn dw_out(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let o = k / (params.c / 4u);
  let c0 = 4u * (k % (params.c / 4u));
  let s = params.su / 4u;
  let base = (o * params.c + c0) / 4u;
  let mb = m_block(base, s);
  // Columns j first (over rows i), then each of the 3 results along j: g[3*ky + kx].
  let c0r = gt4(mb[0][0], mb[1][0], mb[2][0], mb[3][0]);
  let c1r = gt4(mb[0][1], mb[1][1], mb[2][1], mb[3][1]);
  let c2r = gt4(mb[0][2], mb[1][2], mb[2][2], mb[3][2]);
  let c3r = gt4(mb[0][3], mb[1][3], mb[2][3], mb[3][3]);
  let r0 = gt4(c0r[0], c1r[0], c2r[0], c3r[0]);
  let r1 = gt4(c0r[1], c1r[1], c2r[1], c3r[1]);
  let r2 = gt4(c0r[2], c1r[2], c2r[2], c3r[2]);
  let g = array<vec4<f32>, 9>(r0[0], r0[1], r0[2], r1[0], r1[1], r1[2], r2[0], r2[1], r2[2]);
  // Filter j's tap t goes to float 9*j + t of the run: the inverse of `weights`' gather.
  var q = array<vec4<f32>, 9>(
    vec4(g[0].x, g[1].x, g[2].x, g[3].x),
    vec4(g[4].x, g[5].x, g[6].x, g[7].x),
    vec4(g[8].x, g[0].y, g[1].y, g[2].y),
    vec4(g[3].y, g[4].y, g[5].y, g[6].y),
    vec4(g[7].y, g[8].y, g[0].z, g[1].z),
    vec4(g[2].z, g[3].z, g[4].z, g[5].z),
    vec4(g[6].z, g[7].z, g[8].z, g[0].w),
    vec4(g[1].w, g[2].w, g[3].w, g[4].w),
    vec4(g[5].w, g[6].w, g[7].w, g[8].w),
  );
  let at = (o * params.c + c0) * 9u / 4u;
  for (var i = 0u; i < 9u; i++) {
    var v = q[i];
    if (ACCUMULATE == 1u) { v += dw4[at + i]; }
    dw4[at + i] = v;
  }
}

// E and V of dw are laid out with the tiles along rows, E[xi][o][p] and V[xi][c][p] (PP = the
// chunk's tile count, a multiple of 4, passed as SM; planes SV apart), so the 16 GEMMs read E
// as A [O, PP] and V as Bᵀ [C, PP] in place, without matmul's transposing packs. An
// invocation handles one channel of 4 consecutive tiles, each vec4 running over the tiles
// (where the forward's run over channels); tiles past the batch's last are zeros.

fn tile_valid(p: u32) -> bool {
  return params.p0 + p < params.n * params.th * params.tw;
}

// Row `row` of the padded input, columns 2*tx .. 2*tx+3, in channel plane `plane`.
fn xp_row4(plane: u32, row: u32, tx: u32) -> vec4<f32> {
  let at = plane * (params.hp * params.wp / 2u) + row * (params.wp / 2u) + tx;
  return vec4(xp2[at], xp2[at + 1u]);
}

@compute @workgroup_size(64)
fn input_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let groups = params.sm / 4u;
  let c = k / groups;
  let p4 = k % groups;
  // d[i][s]: block row i, column s, component j = tile 4*p4 + j.
  var d: array<array<vec4<f32>, 4>, 4>;
  for (var j = 0u; j < 4u; j++) {
    let p = 4u * p4 + j;
    if (!tile_valid(p)) { continue; }
    let t = locate(p * (params.c / 4u), params.c); // tile p's image and position (channel group 0)
    let plane = t.n * params.c + c;
    for (var i = 0u; i < 4u; i++) {
      let r = xp_row4(plane, 2u * t.ty + i, t.tx);
      d[i][0][j] = r.x;
      d[i][1][j] = r.y;
      d[i][2][j] = r.z;
      d[i][3][j] = r.w;
    }
  }
  store_v(d, (c * params.sm) / 4u + p4);
}

fn dy1(n: u32, o: u32, y: u32, x: u32) -> f32 {
  if (y >= params.oh || x >= params.ow) { return 0.0; }
  return dy[((n * params.o + o) * params.oh + y) * params.ow + x];
}

@compute @workgroup_size(64)
fn dy_tiles_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= params.count) { return; }
  let groups = params.sm / 4u;
  let o = k / groups;
  let p4 = k % groups;
  var e00 = vec4(0.0);
  var e01 = vec4(0.0);
  var e10 = vec4(0.0);
  var e11 = vec4(0.0);
  for (var j = 0u; j < 4u; j++) {
    let p = 4u * p4 + j;
    if (!tile_valid(p)) { continue; }
    let t = locate(p * (params.o / 4u), params.o);
    let y0 = 2u * t.ty;
    let x0 = 2u * t.tx;
    e00[j] = dy1(t.n, o, y0, x0);
    e01[j] = dy1(t.n, o, y0, x0 + 1u);
    e10[j] = dy1(t.n, o, y0 + 1u, x0);
    e11[j] = dy1(t.n, o, y0 + 1u, x0 + 1u);
  }
  let col0 = a2(e00, e10);
  let col1 = a2(e01, e11);
  let base = (o * params.sm) / 4u + p4;
  let s = params.sv / 4u;
  for (var i = 0u; i < 4u; i++) {
    let r = a2(col0[i], col1[i]);
    let at = base + 4u * i * s;
    e4[at] = r[0];
    e4[at + s] = r[1];
    e4[at + 2u * s] = r[2];
    e4[at + 3u * s] = r[3];
  }
}
