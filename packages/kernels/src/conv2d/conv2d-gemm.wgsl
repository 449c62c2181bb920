// The two reshuffles of the GEMM form of a convolution (conv2d.ts, gemm path):
//
//   col [M, K]   M = N * OH * OW rows m = (n, oh, ow), K = C * KH * KW columns k = (c, kh, kw)
//   col[m, k] = x[n, c, oh*SH - PH + kh, ow*SW - PW + kw]   (0 in the padding)
//
// so that dw [O, K] = dyᵀ col and dcol = dy w with dy as [M, O] and w as [O, K]; the matmuls
// run between im2col and col2im. col2im is the adjoint of im2col, written as a gather (one dx
// element per invocation, a sum over the taps that read it) so that no two invocations write
// the same element:
//
//   dx[n, c, h, w] = sum over (kh, kw) with oh = (h + PH - kh) / SH and ow = (w + PW - kw) / SW
//                    whole and in range of dcol[(n, oh, ow), (c, kh, kw)]
//
// Grids are 1-D, folded into 2-D by Runtime.grid().

struct Params {
  n: u32,
  c: u32,
  h: u32,
  w: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  oh: u32,
  ow: u32,
  count: u32, // invocations: M * C (im2col) or N * C * H * W (col2im)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG: u32 = 64u;

// One invocation per (m, c): the run of KH * KW columns of row m that channel c owns,
// contiguous in col.
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.count) { return; }
  let c = i % params.c;
  let m = i / params.c;
  let ow = m % params.ow;
  let noh = m / params.ow;
  let oh = noh % params.oh;
  let n = noh / params.oh;
  let taps = params.kh * params.kw;
  let out0 = i * taps; // m * K + c * taps, K = C * taps
  // Top-left of the window in x, as i32: negative in the padding.
  let y0 = i32(oh * params.sh) - i32(params.ph);
  let x0 = i32(ow * params.sw) - i32(params.pw);
  let plane = (n * params.c + c) * params.h;
  for (var a = 0u; a < params.kh; a++) {
    let y = y0 + i32(a);
    let row_ok = y >= 0 && y < i32(params.h);
    let row = (plane + u32(max(y, 0))) * params.w;
    for (var b = 0u; b < params.kw; b++) {
      let x = x0 + i32(b);
      var v = 0.0;
      if (row_ok && x >= 0 && x < i32(params.w)) { v = src[row + u32(x)]; }
      dst[out0 + a * params.kw + b] = v;
    }
  }
}

@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.count) { return; }
  let x = i % params.w;
  let t = i / params.w;
  let y = t % params.h;
  let nc = t / params.h;
  let c = nc % params.c;
  let n = nc / params.c;
  let taps = params.kh * params.kw;
  let k_stride = params.c * taps; // K: one row of dcol
  var s = 0.0;
  for (var a = 0u; a < params.kh; a++) {
    // oh * SH = y + PH - a must be whole and in range.
    let ry = i32(y + params.ph) - i32(a);
    if (ry < 0 || ry % i32(params.sh) != 0) { continue; }
    let oh = u32(ry) / params.sh;
    if (oh >= params.oh) { continue; }
    for (var b = 0u; b < params.kw; b++) {
      let rx = i32(x + params.pw) - i32(b);
      if (rx < 0 || rx % i32(params.sw) != 0) { continue; }
      let ow = u32(rx) / params.sw;
      if (ow >= params.ow) { continue; }
      let m = (n * params.oh + oh) * params.ow + ow;
      s += src[m * k_stride + c * taps + a * params.kw + b];
    }
  }
  dst[i] = s;
}
