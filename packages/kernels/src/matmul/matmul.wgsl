// Batched C[b] = op(A[b]) * op(B[b]) (+ bias) (+ C[b] when ACCUMULATE), row-major.
//   op(A) is [M, K]: A stored [M, K], or [K, M] when TRANS_A = 1.
//   op(B) is [K, N]: B stored [K, N], or [N, K] when TRANS_B = 1.
// Batch strides (in elements) may be 0 to broadcast an operand over the batch.
// Simple reference-quality version: one output per invocation. (Performance variants live
// beside it and share this interface.)
override WG_X: u32 = 16;
override WG_Y: u32 = 16;
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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  let batch = gid.z;
  if (row >= params.m || col >= params.n) { return; }
  let a0 = batch * params.stride_a;
  let b0 = batch * params.stride_b;
  var s = 0.0;
  for (var kk = 0u; kk < params.k; kk++) {
    var av: f32;
    var bv: f32;
    if (TRANS_A == 1u) { av = a[a0 + kk * params.m + row]; } else { av = a[a0 + row * params.k + kk]; }
    if (TRANS_B == 1u) { bv = b[b0 + col * params.k + kk]; } else { bv = b[b0 + kk * params.n + col]; }
    s += av * bv;
  }
  if (HAS_BIAS == 1u) { s += bias[col]; }
  let ci = batch * params.stride_c + row * params.n + col;
  if (ACCUMULATE == 1u) { c[ci] += s; } else { c[ci] = s; }
}
