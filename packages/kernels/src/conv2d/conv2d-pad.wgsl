// The interior of a zero-padded (and optionally dilated) copy of an NCHW tensor, the layout
// the fast kernels read without bounds checks. The wrapper clears dst first (a buffer clear,
// far cheaper than a kernel writing zeros), then this writes every source element to
//
//   dst[plane, h*DH + PT, w*DW + PL] = src[plane, h, w]      plane = n*C + c
//
// dst is [N, C, HP, WP]. PT/PL may be negative (a crop: elements that land outside dst are
// dropped) and a dilation D > 1 leaves D - 1 zeros between source rows/columns (dx of a
// strided convolution). Grid: x = source column, y = source row, z = a group of zc planes,
// so no invocation divides. Workgroups are 32 x 2 so that narrow rows (25 columns) leave few
// idle invocations.

struct Params {
  planes: u32,  // N * C
  h: u32,
  w: u32,
  hp: u32,
  wp: u32,
  pt: i32,      // rows of padding above (negative: rows cropped)
  pl: i32,      // columns of padding on the left
  dh: u32,      // row dilation (1 = none)
  dw: u32,      // column dilation
  zc: u32,      // planes per invocation (amortizes the index math; also keeps z <= 65535)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(32, 2)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let r = gid.y;
  if (q >= params.w || r >= params.h) { return; }
  let dr = i32(r * params.dh) + params.pt;
  let dq = i32(q * params.dw) + params.pl;
  if (dr < 0 || dr >= i32(params.hp) || dq < 0 || dq >= i32(params.wp)) { return; }
  for (var k = 0u; k < params.zc; k++) {
    let plane = gid.z * params.zc + k;
    if (plane >= params.planes) { return; }
    dst[(plane * params.hp + u32(dr)) * params.wp + u32(dq)] = src[(plane * params.h + r) * params.w + q];
  }
}
