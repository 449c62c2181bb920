// Packs a matrix into the row-major, zero-padded layout the windowed software matmul reads:
//   dst[b][r][col] = S_b(r, col) for col < cols, 0 for cols <= col < ld (ld % 4 == 0),
// where S_b is [rows, cols] stored row-major at src[b * stride], or, when TRANSPOSE = 1,
// stored as its transpose [cols, rows]. Packing op(B) transposed gives Bᵀ with K padded to
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
  let s0 = gid.z * params.stride;
  var v = vec4(0.0);
  for (var q = 0u; q < 4u; q++) {
    let col = x4 * 4u + q;
    // Padding columns read a clamped, in-bounds element and store 0 in its place.
    let cs = min(col, params.cols - 1u);
    var x: f32;
    if (TRANSPOSE == 1u) { x = src[s0 + cs * params.rows + r]; } else { x = src[s0 + r * params.cols + cs]; }
    v[q] = select(0.0, x, col < params.cols);
  }
  dst[(gid.z * params.rows + r) * params.ld4 + x4] = v;
}
