// Batched C[b] = op(A[b]) op(B[b]) (+ bias) (+ C[b]) with workgroup-memory tiles: the variant
// for real GPUs (on lavapipe, barriers and lane-by-lane shared-memory loads make it slower than
// the register-blocked software kernels).
//   op(A) is [M, K]: A stored [M, K], or [K, M] when TRANS_A = 1.
//   op(B) is [K, N]: B stored [K, N], or [N, K] when TRANS_B = 1.
// Batch strides (elements) may be 0 to broadcast an operand over the batch.
//
// A 16x16 workgroup computes a 64x64 tile of C; thread (tx, ty) owns rows 4ty..4ty+3 and
// columns 4tx..4tx+3 of it (16 accumulators). K advances in slices of 16: the workgroup stages
// the 64x16 slice of op(A) and the 16x64 slice of op(B) in workgroup memory (zeros outside the
// matrices, which also handles edge tiles), then every thread runs 16 rank-1 updates of its 4x4
// block from there.
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

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

// as_[kk * 16 + i] holds op(A) rows 4i..4i+3 of the tile at slice step kk; bs_[kk * 16 + j]
// holds op(B) columns 4j..4j+3. vec4 cells let each thread read its 4 rows (4 columns) at once.
var<workgroup> as_: array<vec4<f32>, 256>;
var<workgroup> bs_: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let a0 = wg.z * params.stride_a;
  let b0 = wg.z * params.stride_b;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < k; k0 += BK) {
    // 1024 elements per slice and operand, 4 per thread. Consecutive threads take consecutive
    // elements along the operand's contiguous dimension so that global reads coalesce.
    for (var q = 0u; q < 4u; q++) {
      let e = li + q * 256u;
      var r: u32;
      var kk: u32;
      if (TRANS_A == 1u) { r = e % BM; kk = e / BM; } else { kk = e % BK; r = e / BK; }
      let gr = row0 + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < m && gk < k) {
        if (TRANS_A == 1u) { v = a[a0 + gk * m + gr]; } else { v = a[a0 + gr * k + gk]; }
      }
      as_[kk * 16u + r / 4u][r % 4u] = v;

      var cc: u32;
      var kb: u32;
      if (TRANS_B == 1u) { kb = e % BK; cc = e / BK; } else { cc = e % BN; kb = e / BN; }
      let gc = col0 + cc;
      let gkb = k0 + kb;
      var w = 0.0;
      if (gc < n && gkb < k) {
        if (TRANS_B == 1u) { w = b[b0 + gc * k + gkb]; } else { w = b[b0 + gkb * n + gc]; }
      }
      bs_[kb * 16u + cc / 4u][cc % 4u] = w;
    }
    // The slice must be complete before anyone reads it...
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = as_[kk * 16u + lid.y];
      let bv = bs_[kk * 16u + lid.x];
      acc[0] = fma(vec4(av.x), bv, acc[0]);
      acc[1] = fma(vec4(av.y), bv, acc[1]);
      acc[2] = fma(vec4(av.z), bv, acc[2]);
      acc[3] = fma(vec4(av.w), bv, acc[3]);
    }
    // ...and fully read before the next iteration overwrites it.
    workgroupBarrier();
  }

  let c0 = wg.z * params.stride_c;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    if (row >= m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (col < n) {
        var v = acc[i][j];
        if (HAS_BIAS == 1u) { v += bias[col]; }
        let ci = c0 + row * n + col;
        if (ACCUMULATE == 1u) { v += c[ci]; }
        c[ci] = v;
      }
    }
  }
}
