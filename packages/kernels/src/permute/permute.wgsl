// y = x.permute(perm) made contiguous, for rank <= 6.
// The output is walked in row-major order: output element i has coordinates
// (c0..c5) in the output shape `out_dims`; its source offset is sum_k c_k * src_stride[k],
// where src_stride[k] is x's stride of the axis that output axis k came from (perm[k]).
// Shapes are padded on the left with 1s to rank 6 (stride 0), so one shader serves all ranks.
override WG: u32 = 256;

struct Params {
  n: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  // Peel output coordinates from the last (fastest) axis to the first.
  var r = i;
  let c5 = r % params.d5; r = r / params.d5;
  let c4 = r % params.d4; r = r / params.d4;
  let c3 = r % params.d3; r = r / params.d3;
  let c2 = r % params.d2; r = r / params.d2;
  let c1 = r % params.d1; r = r / params.d1;
  let c0 = r;
  let src = c0 * params.s0 + c1 * params.s1 + c2 * params.s2 + c3 * params.s3 + c4 * params.s4 + c5 * params.s5;
  y[i] = x[src];
}
