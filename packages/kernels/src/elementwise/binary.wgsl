// c = a (op) b, where b is either the same size as a or broadcast along a's trailing
// dimensions: b has `nb` elements and a is [n / nb, nb] (row-major), so b index = i % nb.
//   OP 0 add, 1 mul, 2 sub
// Backward for the broadcast operand is a reduction over rows: see sum-axes.wgsl.
//
// main4: the same on vec4s, PER per invocation, for n % 4 == 0 and nb % 4 == 0 (a row of a
// then never splits a vec4 of b); params count vec4s. See unary.wgsl's forward4 for why.
override WG: u32 = 256;
override OP: u32 = 0;
override PER: u32 = 4;

struct Params {
  n: u32,  // elements of a (main) or vec4s (main4)
  nb: u32, // elements of b (main) or vec4s (main4)
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

@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (gid.x + gid.y * nwg.x * WG) * PER;
  // One integer division per invocation (lavapipe divides lane by lane), then step and wrap.
  var j = base % params.nb;
  for (var k = 0u; k < PER; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    let u = a4[i];
    let v = b4[j];
    j += 1u;
    if (j == params.nb) { j = 0u; }
    switch OP {
      case 0u: { c4[i] = u + v; }
      case 1u: { c4[i] = u * v; }
      default: { c4[i] = u - v; }
    }
  }
}
