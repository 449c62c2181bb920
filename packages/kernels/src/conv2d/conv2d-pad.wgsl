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

// rows4: the same copy for column dilation 1 and WP % 4 == 0, one dst row per invocation,
// written whole (padding included) as vec4s, so the wrapper skips the clear. On lavapipe
// every storage access with a per-invocation index runs lane by lane; main pays that per
// element for the load and the store, rows4 once per vec4 for each. The source is read as
// vec4s too (src holds a multiple of 4 elements): dst columns 4j .. 4j+3 of a source row are
// src flat s0 + 4j .. + 3 with s0 = (plane*H + r)*W - PL, which straddle two aligned vec4s
// lo = src4[a + j], hi = src4[a + j + 1] (a = floor(s0 / 4)) shifted by o = s0 mod 4; hi is
// carried into the next step's lo, so one vec4 load per vec4 stored. Elements of lo/hi
// outside the row (the previous or next row, or outside src, then a clamped index) only
// feed columns that the column mask zeroes.
@group(0) @binding(1) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4<f32>>;

fn load4(i: i32) -> vec4<f32> {
  return src4[u32(clamp(i, 0, i32(arrayLength(&src4)) - 1))];
}

// The 4 elements starting o into lo (0 <= o < 4), continuing into hi.
fn shifted(lo: vec4<f32>, hi: vec4<f32>, o: u32) -> vec4<f32> {
  let s1 = vec4(lo.yzw, hi.x);
  let s2 = vec4(lo.zw, hi.xy);
  let s3 = vec4(lo.w, hi.xyz);
  return select(select(select(s3, s2, o == 2u), s1, o == 1u), lo, o == 0u);
}

@compute @workgroup_size(64)
fn rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u; // (plane, dst row) = plane * HP + dr
  if (row >= params.planes * params.hp) { return; }
  let plane = row / params.hp;
  let dr = row - plane * params.hp;
  let nv = params.wp / 4u;
  let out0 = row * nv;
  let rd = i32(dr) - params.pt; // the row in the dilated source
  let r = rd / i32(params.dh);
  if (rd < 0 || rd % i32(params.dh) != 0 || r >= i32(params.h)) {
    for (var j = 0u; j < nv; j++) { dst4[out0 + j] = vec4(0.0); }
    return;
  }
  let s0 = i32((plane * params.h + u32(r)) * params.w) - params.pl;
  let o = u32(s0 & 3); // two's complement: s0 - 4 * floor(s0 / 4), also for s0 < 0
  let a = s0 >> 2u; // arithmetic shift: floor(s0 / 4)
  let w = i32(params.w);
  var lo = load4(a);
  for (var j = 0u; j < nv; j++) {
    let hi = load4(a + i32(j) + 1);
    let q = vec4(i32(4u * j) - params.pl) + vec4(0, 1, 2, 3); // source columns
    dst4[out0 + j] = select(vec4(0.0), shifted(lo, hi, o), (q >= vec4(0)) & (q < vec4(w)));
    lo = hi;
  }
}
