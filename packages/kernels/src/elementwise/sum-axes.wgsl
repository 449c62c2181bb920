// Sums x viewed as [A, B, C] over axes 0 and 2: y[b] = sum_{a, c} x[a, b, c].
// Bias gradients (linear: [M, N, 1]; conv NCHW: [N, C, H*W]) and broadcast backward use it.
// One workgroup per output element b and chunk s of A (workgroup_id = (b, s)): each
// invocation strides over the chunk's (a, c) terms, then a tree reduction in workgroup memory
// (barriers between halvings) combines WG partial sums. With one chunk (chunk_a >= A, the
// single pass) y is [B]; with several, y is the partial sums [S, B], row s for chunk s, which
// a second run over [S, B, 1] adds up (the split form for GPUs, elementwise.ts).
// When ACCUMULATE is 1 the result is added to y instead of stored.
override WG: u32 = 64;
override ACCUMULATE: u32 = 0;

struct Params {
  a: u32,
  b: u32,
  c: u32,
  chunk_a: u32, // rows of A per chunk
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bi = wid.x;
  let a0 = wid.y * params.chunk_a;
  let rows = min(params.chunk_a, params.a - min(a0, params.a));
  let total = rows * params.c;
  var s = 0.0;
  for (var k = lid.x; k < total; k += WG) {
    let ai = a0 + k / params.c;
    let ci = k % params.c;
    s += x[(ai * params.b + bi) * params.c + ci];
  }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && bi < params.b) {
    let o = wid.y * params.b + bi;
    if (ACCUMULATE == 1u) { y[o] += partial[0]; } else { y[o] = partial[0]; }
  }
}
