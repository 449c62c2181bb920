// C = A Bᵀ' (+ bias) (+ C) for software adapters (lavapipe), one column window per dispatch.
//
// Why this shape: lavapipe runs 8 invocations as the 8 lanes of one AVX2 vector, and loads
// every storage-buffer element lane by lane (an extract, a bounds check, a branch, a load and
// an insert for each lane), which costs ~6-10 instructions per float. A uniform-buffer load is
// a branch-free gather (~2.5 instructions per float), and a subgroup broadcast is a single
// vpermd. So:
//   - B comes packed as Bᵀ (row j = column j of op(B), K padded to `kp`) and is read through
//     two 64 KiB windows bound as uniform buffers: window A holds columns
//     [col_base, col_base + cw) and window B the next [col_base + cw, col_base + cw + cw2).
//     The wrapper dispatches once per pair of windows.
//   - Each workgroup is one subgroup of 8 lanes and computes 24 rows of C for a 16-column
//     tile of each window: lane l owns tile columns l and l + 8 of window A and the same two
//     of window B, all 24 rows (24 vec4 accumulators, .xy from A, .zw from B).
//   - A rows are loaded cooperatively, one vec4 (4 consecutive k) per lane per 8 rows, and
//     every lane gets each row's value with subgroupBroadcast: a row value is loaded once per
//     subgroup instead of once per lane, and each broadcast feeds a vec4 multiply-add (four
//     columns). Against one window per dispatch and two columns per lane (vec2), measured on
//     lavapipe at 1024³: 112-133 ms of GPU time against 124-153 ms, the same bits. 24 rows
//     against 16 (each Bᵀ gather then feeds 24 multiply-adds instead of 16), three processes:
//     99.5-108.6 ms against 117.6-124.5; 8 rows took 150 ms and 32 rows 166 ms.
// A is row-major [m, k] with rows `k4a` vec4s apart (K % 4 == 0, or packed with zeros past K),
// where m folds any batch of A when B is shared. C is row-major [m, n]; this dispatch writes
// columns [col_base, col_base + cw + cw2).
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
  // Columns in window A, and in window B (0 when the last dispatch has only window A).
  cw: u32,
  cw2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> bw: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<uniform> bw2: array<vec4<f32>, 4096>;

const TM: u32 = 24u;
const TN: u32 = 16u;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = params.m;
  let row0 = wg.y * TM;
  let lcol0 = wg.x * TN;
  // Lane l loads rows row0 + l, row0 + 8 + l and row0 + 16 + l of A. Rows past m are clamped
  // (loaded but never stored), so no load needs a bounds test inside the loop.
  let arow0 = min(row0 + lid, m - 1u) * params.k4a;
  let arow1 = min(row0 + 8u + lid, m - 1u) * params.k4a;
  let arow2 = min(row0 + 16u + lid, m - 1u) * params.k4a;
  // Lane l owns columns lcol0 + l and lcol0 + 8 + l of each window (clamped the same way;
  // window B's clamp keeps an empty window B at its column 0).
  let bcol0 = min(lcol0 + lid, params.cw - 1u) * params.kp4;
  let bcol1 = min(lcol0 + 8u + lid, params.cw - 1u) * params.kp4;
  let cw2 = max(params.cw2, 1u);
  let bcol2 = min(lcol0 + lid, cw2 - 1u) * params.kp4;
  let bcol3 = min(lcol0 + 8u + lid, cw2 - 1u) * params.kp4;

  // acc[r] holds row row0 + r for the lane's four columns: .x, .y window A columns
  // lcol0 + l, lcol0 + 8 + l; .z, .w the same columns of window B.
  var acc: array<vec4<f32>, 24>;
  for (var k4 = 0u; k4 < params.k4; k4++) {
    let av0 = a[arow0 + k4];
    let av1 = a[arow1 + k4];
    let av2 = a[arow2 + k4];
    let bv0 = bw[bcol0 + k4];
    let bv1 = bw[bcol1 + k4];
    let bv2 = bw2[bcol2 + k4];
    let bv3 = bw2[bcol3 + k4];
    // Constant trip counts: the compiler unrolls both loops, so every index below is a
    // constant and the accumulators stay in registers.
    for (var u = 0u; u < 4u; u++) {
      let b4 = vec4(bv0[u], bv1[u], bv2[u], bv3[u]);
      // Row r's value for step u sits in lane r % 8 of av0 (r < 8), av1 (r < 16) or av2.
      // Written out row by row: subgroupBroadcast's lane must be a constant expression, which
      // a loop counter is not.
      acc[0] = fma(vec4(subgroupBroadcast(av0[u], 0u)), b4, acc[0]);
      acc[1] = fma(vec4(subgroupBroadcast(av0[u], 1u)), b4, acc[1]);
      acc[2] = fma(vec4(subgroupBroadcast(av0[u], 2u)), b4, acc[2]);
      acc[3] = fma(vec4(subgroupBroadcast(av0[u], 3u)), b4, acc[3]);
      acc[4] = fma(vec4(subgroupBroadcast(av0[u], 4u)), b4, acc[4]);
      acc[5] = fma(vec4(subgroupBroadcast(av0[u], 5u)), b4, acc[5]);
      acc[6] = fma(vec4(subgroupBroadcast(av0[u], 6u)), b4, acc[6]);
      acc[7] = fma(vec4(subgroupBroadcast(av0[u], 7u)), b4, acc[7]);
      acc[8] = fma(vec4(subgroupBroadcast(av1[u], 0u)), b4, acc[8]);
      acc[9] = fma(vec4(subgroupBroadcast(av1[u], 1u)), b4, acc[9]);
      acc[10] = fma(vec4(subgroupBroadcast(av1[u], 2u)), b4, acc[10]);
      acc[11] = fma(vec4(subgroupBroadcast(av1[u], 3u)), b4, acc[11]);
      acc[12] = fma(vec4(subgroupBroadcast(av1[u], 4u)), b4, acc[12]);
      acc[13] = fma(vec4(subgroupBroadcast(av1[u], 5u)), b4, acc[13]);
      acc[14] = fma(vec4(subgroupBroadcast(av1[u], 6u)), b4, acc[14]);
      acc[15] = fma(vec4(subgroupBroadcast(av1[u], 7u)), b4, acc[15]);
      acc[16] = fma(vec4(subgroupBroadcast(av2[u], 0u)), b4, acc[16]);
      acc[17] = fma(vec4(subgroupBroadcast(av2[u], 1u)), b4, acc[17]);
      acc[18] = fma(vec4(subgroupBroadcast(av2[u], 2u)), b4, acc[18]);
      acc[19] = fma(vec4(subgroupBroadcast(av2[u], 3u)), b4, acc[19]);
      acc[20] = fma(vec4(subgroupBroadcast(av2[u], 4u)), b4, acc[20]);
      acc[21] = fma(vec4(subgroupBroadcast(av2[u], 5u)), b4, acc[21]);
      acc[22] = fma(vec4(subgroupBroadcast(av2[u], 6u)), b4, acc[22]);
      acc[23] = fma(vec4(subgroupBroadcast(av2[u], 7u)), b4, acc[23]);
    }
  }

  for (var j = 0u; j < 4u; j++) {
    // j = 0, 1: window A columns lcol0 + l (+ 8); j = 2, 3: the same of window B.
    let lc = lcol0 + lid + 8u * (j % 2u);
    let width = select(params.cw, params.cw2, j >= 2u);
    let col = params.col_base + lc + select(0u, params.cw, j >= 2u);
    if (lc < width && col < params.n) {
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
