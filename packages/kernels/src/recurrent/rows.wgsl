// Copies a block of `rows` rows of `cols` floats between strided layouts, or clears it when
// HAS_SRC = 0: dst[dst_off + r*dst_stride + c] = src[src_off + r*src_stride + c]. The
// recurrent driver moves states with it between the [layers*dirs, N, H] tensors (h0, hN,
// dh0, ...) and the step kernels' padded rows. Index e = r*cols + c, folded into 2-D by
// Runtime.grid(): e = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 256;
override HAS_SRC: u32 = 1;

struct Params {
  rows: u32,
  cols: u32,
  src_off: u32,
  src_stride: u32,
  dst_off: u32,
  dst_stride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= params.rows * params.cols) { return; }
  let r = e / params.cols;
  let c = e - r * params.cols;
  var v = 0.0;
  if (HAS_SRC == 1u) { v = src[params.src_off + r * params.src_stride + c]; }
  dst[params.dst_off + r * params.dst_stride + c] = v;
}
