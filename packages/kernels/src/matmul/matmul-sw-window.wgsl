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
//   - Each row's four k steps are done together (rows outside, steps inside; see the loop).
//     Against steps outside, interleaved in one process (GPU time, medians of 12 and 14,
//     two runs, /tmp script): 1024³ 93.7 / 93.9 ms against 111.5 / 104.1, [192, 512] x
//     [512, 2048] 21.2 / 21.6 against 29.9 / 23.8, the LSTM input projection 9.6 / 9.7
//     against 10.9 / 10.4. With rows outside, 32 and 40 rows measured as 24 (1024³ 103.6 and
//     103.9 ms in the first run), and two trips per loop iteration (fewer mask blends) no better.
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
    // B's four columns at steps k .. k+3 (vec4 over the columns).
    let b0 = vec4(bv0.x, bv1.x, bv2.x, bv3.x);
    let b1 = vec4(bv0.y, bv1.y, bv2.y, bv3.y);
    let b2 = vec4(bv0.z, bv1.z, bv2.z, bv3.z);
    let b3 = vec4(bv0.w, bv1.w, bv2.w, bv3.w);
    // Row r's four k values sit in lane r % 8 of av0 (r < 8), av1 (r < 16) or av2. One row at
    // a time with its four steps together, so each accumulator is loaded and stored once per
    // trip: the 24 vec4 accumulators are 96 vector registers of lavapipe's 32, and with the
    // steps outside the rows (the previous form) every step went through the stack for every
    // row (JIT output: 506 stack accesses per trip against 811, 2405 instructions against
    // 2501; same sums in the same order, so the same bits). Written out row by row:
    // subgroupBroadcast's lane must be a constant expression.
    row(&acc[0], subgroupBroadcast(av0, 0u), b0, b1, b2, b3);
    row(&acc[1], subgroupBroadcast(av0, 1u), b0, b1, b2, b3);
    row(&acc[2], subgroupBroadcast(av0, 2u), b0, b1, b2, b3);
    row(&acc[3], subgroupBroadcast(av0, 3u), b0, b1, b2, b3);
    row(&acc[4], subgroupBroadcast(av0, 4u), b0, b1, b2, b3);
    row(&acc[5], subgroupBroadcast(av0, 5u), b0, b1, b2, b3);
    row(&acc[6], subgroupBroadcast(av0, 6u), b0, b1, b2, b3);
    row(&acc[7], subgroupBroadcast(av0, 7u), b0, b1, b2, b3);
    row(&acc[8], subgroupBroadcast(av1, 0u), b0, b1, b2, b3);
    row(&acc[9], subgroupBroadcast(av1, 1u), b0, b1, b2, b3);
    row(&acc[10], subgroupBroadcast(av1, 2u), b0, b1, b2, b3);
    row(&acc[11], subgroupBroadcast(av1, 3u), b0, b1, b2, b3);
    row(&acc[12], subgroupBroadcast(av1, 4u), b0, b1, b2, b3);
    row(&acc[13], subgroupBroadcast(av1, 5u), b0, b1, b2, b3);
    row(&acc[14], subgroupBroadcast(av1, 6u), b0, b1, b2, b3);
    row(&acc[15], subgroupBroadcast(av1, 7u), b0, b1, b2, b3);
    row(&acc[16], subgroupBroadcast(av2, 0u), b0, b1, b2, b3);
    row(&acc[17], subgroupBroadcast(av2, 1u), b0, b1, b2, b3);
    row(&acc[18], subgroupBroadcast(av2, 2u), b0, b1, b2, b3);
    row(&acc[19], subgroupBroadcast(av2, 3u), b0, b1, b2, b3);
    row(&acc[20], subgroupBroadcast(av2, 4u), b0, b1, b2, b3);
    row(&acc[21], subgroupBroadcast(av2, 5u), b0, b1, b2, b3);
    row(&acc[22], subgroupBroadcast(av2, 6u), b0, b1, b2, b3);
    row(&acc[23], subgroupBroadcast(av2, 7u), b0, b1, b2, b3);
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

// acc += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3 (steps k .. k+3 of one row, in order).
fn row(acc: ptr<function, vec4<f32>>, a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
  var v = *acc;
  v = fma(vec4(a.x), b0, v);
  v = fma(vec4(a.y), b1, v);
  v = fma(vec4(a.z), b2, v);
  v = fma(vec4(a.w), b3, v);
  *acc = v;
}
