// Sums x viewed as [A, B, C] over axes 0 and 2: y[b] = sum_{a, c} x[a, b, c].
// Bias gradients (linear: [M, N, 1]; conv NCHW: [N, C, H*W]) and broadcast backward use it.
// One workgroup per output element; each invocation strides over the A*C terms, then a
// tree reduction in workgroup memory (barriers between halvings) combines WG partial sums.
// When ACCUMULATE is 1 the result is added to y instead of stored.
override WG: u32 = 64;
override ACCUMULATE: u32 = 0;

struct Params {
  a: u32,
  b: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bi = wid.x;
  let total = params.a * params.c;
  var s = 0.0;
  for (var k = lid.x; k < total; k += WG) {
    let ai = k / params.c;
    let ci = k - ai * params.c;
    s += x[(ai * params.b + bi) * params.c + ci];
  }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && bi < params.b) {
    if (ACCUMULATE == 1u) { y[bi] += partial[0]; } else { y[bi] = partial[0]; }
  }
}
