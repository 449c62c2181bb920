// C = A Bᵀ' (+ bias) (+ C) for software adapters (lavapipe), one column window per dispatch.
//
// Why this shape: lavapipe runs 8 invocations as the 8 lanes of one AVX2 vector, and loads
// every storage-buffer element lane by lane (an extract, a bounds check, a branch, a load and
// an insert for each lane), which costs ~6-10 instructions per float. A uniform-buffer load is
// a branch-free gather (~2.5 instructions per float), and a subgroup broadcast is a single
// vpermd. So:
//   - B comes packed as Bᵀ (row j = column j of op(B), K padded to `kp`) in a 64 KiB window
//     bound as a uniform buffer; the wrapper dispatches once per window of `cw` columns.
//   - Each workgroup is one subgroup of 8 lanes and computes a 16x16 tile of C: lane l owns
//     columns l and l + 8 of the tile and all 16 rows (32 accumulators).
//   - A rows are loaded cooperatively, one vec4 (4 consecutive k) per lane per 8 rows, and
//     every lane gets each row's value with subgroupBroadcast: a row value is loaded once per
//     subgroup instead of once per lane.
//
// A is row-major [m, k] with rows `k4a` vec4s apart (K % 4 == 0, or packed with zeros past K),
// where m folds any batch of A when B is shared. C is row-major [m, n]; this dispatch writes
// columns [col_base, col_base + cw).
enable subgroups;

override HAS_BIAS: u32 = 0;
override ACCUMULATE: u32 = 0;

struct Params {
  m: u32,
  n: u32,
  // ceil(k / 4): vec4 steps along K.
  k4: u32,
  // Row stride of A in vec4s.
  k4a: u32,
  // Row stride of the packed Bᵀ in vec4s.
  kp4: u32,
  col_base: u32,
  cw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> bw: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TM: u32 = 16u;
const TN: u32 = 16u;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = params.m;
  let row0 = wg.y * TM;
  let lcol0 = wg.x * TN;
  // Lane l loads rows row0 + l and row0 + 8 + l of A. Rows past m are clamped (loaded but
  // never stored), so no load needs a bounds test inside the loop.
  let arow0 = min(row0 + lid, m - 1u) * params.k4a;
  let arow1 = min(row0 + 8u + lid, m - 1u) * params.k4a;
  // Lane l owns window columns lcol0 + l and lcol0 + 8 + l (clamped the same way).
  let bcol0 = min(lcol0 + lid, params.cw - 1u) * params.kp4;
  let bcol1 = min(lcol0 + 8u + lid, params.cw - 1u) * params.kp4;

  // acc[r] holds rows row0 + r for the lane's two columns (.x: lcol0 + l, .y: lcol0 + 8 + l).
  var acc: array<vec2<f32>, 16>;
  for (var k4 = 0u; k4 < params.k4; k4++) {
    let av0 = a[arow0 + k4];
    let av1 = a[arow1 + k4];
    let bv0 = bw[bcol0 + k4];
    let bv1 = bw[bcol1 + k4];
    // Constant trip counts: the compiler unrolls both loops, so every index below is a
    // constant and the accumulators stay in registers.
    for (var u = 0u; u < 4u; u++) {
      let b2 = vec2(bv0[u], bv1[u]);
      // Row r's value for step u sits in lane r of av0 (r < 8) or of av1 (r >= 8).
      acc[0] = fma(vec2(subgroupBroadcast(av0[u], 0u)), b2, acc[0]);
      acc[1] = fma(vec2(subgroupBroadcast(av0[u], 1u)), b2, acc[1]);
      acc[2] = fma(vec2(subgroupBroadcast(av0[u], 2u)), b2, acc[2]);
      acc[3] = fma(vec2(subgroupBroadcast(av0[u], 3u)), b2, acc[3]);
      acc[4] = fma(vec2(subgroupBroadcast(av0[u], 4u)), b2, acc[4]);
      acc[5] = fma(vec2(subgroupBroadcast(av0[u], 5u)), b2, acc[5]);
      acc[6] = fma(vec2(subgroupBroadcast(av0[u], 6u)), b2, acc[6]);
      acc[7] = fma(vec2(subgroupBroadcast(av0[u], 7u)), b2, acc[7]);
      acc[8] = fma(vec2(subgroupBroadcast(av1[u], 0u)), b2, acc[8]);
      acc[9] = fma(vec2(subgroupBroadcast(av1[u], 1u)), b2, acc[9]);
      acc[10] = fma(vec2(subgroupBroadcast(av1[u], 2u)), b2, acc[10]);
      acc[11] = fma(vec2(subgroupBroadcast(av1[u], 3u)), b2, acc[11]);
      acc[12] = fma(vec2(subgroupBroadcast(av1[u], 4u)), b2, acc[12]);
      acc[13] = fma(vec2(subgroupBroadcast(av1[u], 5u)), b2, acc[13]);
      acc[14] = fma(vec2(subgroupBroadcast(av1[u], 6u)), b2, acc[14]);
      acc[15] = fma(vec2(subgroupBroadcast(av1[u], 7u)), b2, acc[15]);
    }
  }

  for (var j = 0u; j < 2u; j++) {
    let lc = lcol0 + lid + 8u * j;
    let col = params.col_base + lc;
    if (lc < params.cw && col < params.n) {
      var add = 0.0;
      if (HAS_BIAS == 1u) { add = bias[col]; }
      for (var r = 0u; r < TM; r++) {
        let row = row0 + r;
        if (row < m) {
          let ci = row * params.n + col;
          var v = acc[r][j] + add;
          if (ACCUMULATE == 1u) { v += c[ci]; }
          c[ci] = v;
        }
      }
    }
  }
}
