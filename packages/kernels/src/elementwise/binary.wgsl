// c = a (op) b, where b is either the same size as a or broadcast along a's trailing
// dimensions: b has `nb` elements and a is [n / nb, nb] (row-major), so b index = i % nb.
//   OP 0 add, 1 mul, 2 sub
// Backward for the broadcast operand is a reduction over rows: see reduce/sum-axes.wgsl.
override WG: u32 = 256;
override OP: u32 = 0;

struct Params {
  n: u32,
  nb: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let u = a[i];
  let v = b[i % params.nb];
  switch OP {
    case 0u: { c[i] = u + v; }
    case 1u: { c[i] = u * v; }
    default: { c[i] = u - v; }
  }
}
