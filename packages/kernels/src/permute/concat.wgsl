// Concatenation along one axis: x viewed as [outer, ax, inner] is copied into y viewed as
// [outer, ax_total, inner] at axis offset `at`. One dispatch per input; the inputs' slices
// do not overlap, so the dispatches are independent. The backward (split) is the same index
// map read the other way: SPLIT = 1 copies y's slice out into x.
override WG: u32 = 256;
override SPLIT: u32 = 0;

struct Params {
  n: u32,      // elements of x
  ax: u32,     // x's size along the axis
  inner: u32,
  ax_total: u32,
  at: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let inner = i % params.inner;
  let a = (i / params.inner) % params.ax;
  let o = i / (params.inner * params.ax);
  let j = (o * params.ax_total + params.at + a) * params.inner + inner;
  if (SPLIT == 1u) { x[i] = y[j]; } else { y[j] = x[i]; }
}
