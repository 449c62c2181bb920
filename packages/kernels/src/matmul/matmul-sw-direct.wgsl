// Batched C[b] = op(A[b]) op(B[b]) (+ bias) (+ C[b]) for software adapters, reading the
// operands where they lie (no packing): the fallback of matmul-sw-window.wgsl for batched B,
// very long K and small products, where packing would cost more than it saves.
//
// Same register blocking as the windowed kernel (one 8-lane subgroup per workgroup, a 16x16
// tile of C, lane l owning columns l and l + 8 and all 16 rows), but with scalar loads in any
// layout: lane l loads A(row0 + l, k) and A(row0 + 8 + l, k) and every lane gets all 16 row
// values by subgroupBroadcast, so each A value is loaded once per subgroup, not once per lane.
//   op(A) is [M, K]: A stored [M, K], or [K, M] when TRANS_A = 1.
//   op(B) is [K, N]: B stored [K, N], or [N, K] when TRANS_B = 1.
// Batch strides (elements) may be 0 to broadcast an operand over the batch.
enable subgroups;

override TRANS_A: u32 = 0;
override TRANS_B: u32 = 0;
override HAS_BIAS: u32 = 0;
override ACCUMULATE: u32 = 0;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  stride_a: u32,
  stride_b: u32,
  stride_c: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TM: u32 = 16u;
const TN: u32 = 16u;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let row0 = wg.y * TM;
  let col0 = wg.x * TN;
  // Element (row, kk) of op(A) is a[abase(row) + kk * astep]; rows and columns past the
  // matrix are clamped so that every load in the loop is in bounds (they are never stored).
  let ra0 = min(row0 + lid, m - 1u);
  let ra1 = min(row0 + 8u + lid, m - 1u);
  let a0 = wg.z * params.stride_a;
  var astep = 1u;
  var abase0 = a0 + ra0 * k;
  var abase1 = a0 + ra1 * k;
  if (TRANS_A == 1u) {
    astep = m;
    abase0 = a0 + ra0;
    abase1 = a0 + ra1;
  }
  // Element (kk, col) of op(B) is b[bbase(col) + kk * bstep].
  let cb0 = min(col0 + lid, n - 1u);
  let cb1 = min(col0 + 8u + lid, n - 1u);
  let b0 = wg.z * params.stride_b;
  var bstep = n;
  var bbase0 = b0 + cb0;
  var bbase1 = b0 + cb1;
  if (TRANS_B == 1u) {
    bstep = 1u;
    bbase0 = b0 + cb0 * k;
    bbase1 = b0 + cb1 * k;
  }

  var acc: array<vec2<f32>, 16>;
  // Four k per trip to spread the loop's bookkeeping; the last trip's steps past k load the
  // clamped element k - 1 and zero both factors (zeroing only one would turn an inf into NaN).
  let kt = (k + 3u) / 4u;
  for (var t = 0u; t < kt; t++) {
    for (var u = 0u; u < 4u; u++) {
      let kk = t * 4u + u;
      let live = kk < k;
      let ks = min(kk, k - 1u);
      let x0 = select(0.0, a[abase0 + ks * astep], live);
      let x1 = select(0.0, a[abase1 + ks * astep], live);
      let b2 = select(vec2(0.0), vec2(b[bbase0 + ks * bstep], b[bbase1 + ks * bstep]), live);
      acc[0] = fma(vec2(subgroupBroadcast(x0, 0u)), b2, acc[0]);
      acc[1] = fma(vec2(subgroupBroadcast(x0, 1u)), b2, acc[1]);
      acc[2] = fma(vec2(subgroupBroadcast(x0, 2u)), b2, acc[2]);
      acc[3] = fma(vec2(subgroupBroadcast(x0, 3u)), b2, acc[3]);
      acc[4] = fma(vec2(subgroupBroadcast(x0, 4u)), b2, acc[4]);
      acc[5] = fma(vec2(subgroupBroadcast(x0, 5u)), b2, acc[5]);
      acc[6] = fma(vec2(subgroupBroadcast(x0, 6u)), b2, acc[6]);
      acc[7] = fma(vec2(subgroupBroadcast(x0, 7u)), b2, acc[7]);
      acc[8] = fma(vec2(subgroupBroadcast(x1, 0u)), b2, acc[8]);
      acc[9] = fma(vec2(subgroupBroadcast(x1, 1u)), b2, acc[9]);
      acc[10] = fma(vec2(subgroupBroadcast(x1, 2u)), b2, acc[10]);
      acc[11] = fma(vec2(subgroupBroadcast(x1, 3u)), b2, acc[11]);
      acc[12] = fma(vec2(subgroupBroadcast(x1, 4u)), b2, acc[12]);
      acc[13] = fma(vec2(subgroupBroadcast(x1, 5u)), b2, acc[13]);
      acc[14] = fma(vec2(subgroupBroadcast(x1, 6u)), b2, acc[14]);
      acc[15] = fma(vec2(subgroupBroadcast(x1, 7u)), b2, acc[15]);
    }
  }

  let c0 = wg.z * params.stride_c;
  for (var j = 0u; j < 2u; j++) {
    let col = col0 + lid + 8u * j;
    if (col < n) {
      var add = 0.0;
      if (HAS_BIAS == 1u) { add = bias[col]; }
      for (var r = 0u; r < TM; r++) {
        let row = row0 + r;
        if (row < m) {
          let ci = c0 + row * n + col;
          var v = acc[r][j] + add;
          if (ACCUMULATE == 1u) { v += c[ci]; }
          c[ci] = v;
        }
      }
    }
  }
}
