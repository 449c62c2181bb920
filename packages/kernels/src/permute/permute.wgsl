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

// transpose4: the batched 2-D transpose that most permutations reduce to once size-1 axes are
// dropped and axes that stay together are merged (permute.ts): S [B][R][C] -> D [B][C][R],
// R % 4 == 0 and C % 4 == 0, one 4x4 block per invocation: four vec4 loads and four vec4
// stores where the gather above does sixteen scalar loads and stores (lavapipe loads and
// stores lane by lane, so their count is the cost). Bits are moved as u32, so f32, i32 and u32
// share the pipeline. Grid: x = r4 (R / 4), y = c4 (C / 4), z = b, so that neighbouring lanes
// write neighbouring vec4 of one destination row; with LANES_ON_C = 1, x = c4 and y = r4 (for
// R / 4 much smaller than a workgroup: [8, 24, 512] -> [8, 512, 24] left 58 of 64 lanes idle
// and took 0.96 ms against 0.33 with lanes along C).
override LANES_ON_C: u32 = 0u;

struct Params4 {
  r4: u32, // R / 4
  c4: u32, // C / 4
}

@group(0) @binding(0) var<uniform> params4: Params4;
@group(0) @binding(1) var<storage, read> x4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn transpose4(@builtin(global_invocation_id) gid: vec3<u32>) {
  var r4 = gid.x;
  var c4 = gid.y;
  if (LANES_ON_C == 1u) {
    r4 = gid.y;
    c4 = gid.x;
  }
  let b = gid.z;
  if (r4 >= params4.r4 || c4 >= params4.c4) { return; }
  // Source rows 4*r4 .. 4*r4+3 of item b, columns 4*c4 .. 4*c4+3.
  let s = (b * params4.r4 * 4u + r4 * 4u) * params4.c4 + c4;
  let v0 = x4[s];
  let v1 = x4[s + params4.c4];
  let v2 = x4[s + 2u * params4.c4];
  let v3 = x4[s + 3u * params4.c4];
  // Destination rows 4*c4 + j, vec4 r4 of each.
  let d = (b * params4.c4 * 4u + c4 * 4u) * params4.r4 + r4;
  y4[d] = vec4(v0.x, v1.x, v2.x, v3.x);
  y4[d + params4.r4] = vec4(v0.y, v1.y, v2.y, v3.y);
  y4[d + 2u * params4.r4] = vec4(v0.z, v1.z, v2.z, v3.z);
  y4[d + 3u * params4.r4] = vec4(v0.w, v1.w, v2.w, v3.w);
}
