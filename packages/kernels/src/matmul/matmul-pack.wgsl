// Packs a matrix into the row-major, zero-padded layout the windowed software matmul reads:
//   dst[b][r][col] = S_b(r, col) for col < cols, 0 for cols <= col < ld (ld % 4 == 0),
// where S_b is [rows, cols] stored row-major (rows ld_src apart) at src[off + b * stride], or,
// when TRANSPOSE = 1, stored as its transpose [cols, rows]. A K-slice of op(B) (the windowed
// matmul's split of long reductions) is such a sub-matrix: off = the slice's first column
// (rows of ld_src = K) or row (times rows) of the stored B. Packing op(B) transposed gives Bᵀ with K padded to
// whole vec4s and to the window alignment; packing op(A) gives A rows of whole vec4s.
//
// Grid: x = vec4 column group of dst, y = row, z = batch item (no integer division: lavapipe
// divides lane by lane). Each invocation writes one vec4: on lavapipe a vec4 store costs about
// what a scalar store does, so this quarters the store work.
override TRANSPOSE: u32 = 0;

struct Params {
  rows: u32,
  cols: u32,
  // ld / 4: vec4s per dst row.
  ld4: u32,
  stride: u32,
  off: u32,
  // Source row stride (TRANSPOSE = 0): cols unless S is a column slice of a wider matrix.
  ld_src: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x4 = gid.x;
  let r = gid.y;
  if (x4 >= params.ld4 || r >= params.rows) { return; }
  let s0 = params.off + gid.z * params.stride;
  var v = vec4(0.0);
  for (var q = 0u; q < 4u; q++) {
    let col = x4 * 4u + q;
    // Padding columns read a clamped, in-bounds element and store 0 in its place.
    let cs = min(col, params.cols - 1u);
    var x: f32;
    if (TRANSPOSE == 1u) { x = src[s0 + cs * params.rows + r]; } else { x = src[s0 + r * params.ld_src + cs]; }
    v[q] = select(0.0, x, col < params.cols);
  }
  dst[(gid.z * params.rows + r) * params.ld4 + x4] = v;
}

// transpose4: TRANSPOSE = 1 for rows % 4 == 0 and stride % 4 == 0, a 4x4 block per
// invocation. Grid: x = vec4 column group of dst (dst columns 4*x4 .. 4*x4+3, i.e. source rows),
// y = group of 4 dst rows (source columns 4*y .. 4*y+3, one aligned vec4 of each source row),
// z = batch item. Four vec4 loads and four vec4 stores instead of sixteen scalar loads and
// four vec4 stores: on lavapipe, where each load runs lane by lane, 2.4 ms against 4.9 ms to
// transpose 1024 x 1024 (median of 15). Same values, so the same bits.
@group(0) @binding(1) var<storage, read> src4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn transpose4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x4 = gid.x;
  let r4 = gid.y;
  if (x4 >= params.ld4 || r4 * 4u >= params.rows) { return; }
  // Source S^T is [cols, rows]: source row cs holds dst column cs; its vec4 r4 holds dst rows
  // 4*r4 .. 4*r4+3 of that column.
  let s0 = (params.off + gid.z * params.stride) / 4u; // off % 4 == 0 (the wrapper checks)
  var v: array<vec4<f32>, 4>;
  for (var q = 0u; q < 4u; q++) {
    let col = x4 * 4u + q;
    let cs = min(col, params.cols - 1u);
    v[q] = select(vec4(0.0), src4[s0 + cs * (params.rows / 4u) + r4], col < params.cols);
  }
  let d0 = (gid.z * params.rows + r4 * 4u) * params.ld4 + x4;
  dst[d0] = vec4(v[0].x, v[1].x, v[2].x, v[3].x);
  dst[d0 + params.ld4] = vec4(v[0].y, v[1].y, v[2].y, v[3].y);
  dst[d0 + 2u * params.ld4] = vec4(v[0].z, v[1].z, v[2].z, v[3].z);
  dst[d0 + 3u * params.ld4] = vec4(v[0].w, v[1].w, v[2].w, v[3].w);
}

// copy4: TRANSPOSE = 0 with whole vec4 source rows (cols, ld_src, off and stride multiples of
// 4): one vec4 load and store per invocation where `main` does four scalar loads (the K-slices
// of a transposed B, e.g. the GEMM form's [O, C*KH*KW] weights, are such copies). Grid as
// `main`; columns from cols to ld are zeros.
@compute @workgroup_size(WG)
fn copy4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x4 = gid.x;
  let r = gid.y;
  if (x4 >= params.ld4 || r >= params.rows) { return; }
  var v = vec4(0.0);
  if (x4 * 4u < params.cols) { v = src4[(params.off + gid.z * params.stride + r * params.ld_src) / 4u + x4]; }
  dst[(gid.z * params.rows + r) * params.ld4 + x4] = v;
}
