// The two reshuffles of the GEMM form of a convolution (conv2d.ts, gemm path):
//
//   col [M, K]   M = N * OH * OW rows m = (n, oh, ow), K = C * KH * KW columns k = (c, kh, kw)
//   col[m, k] = x[n, c, oh*SH - PH + kh, ow*SW - PW + kw]   (0 in the padding)
//
// so that dw [O, K] = dyᵀ col and dcol = dy w with dy as [M, O] and w as [O, K]; the matmuls
// run between im2col and col2im. col2im is the adjoint of im2col, written as a gather (one dx
// row per invocation, each element a sum over the taps that read it) so that no two invocations write
// the same element:
//
//   dx[n, c, h, w] = sum over (kh, kw) with oh = (h + PH - kh) / SH and ow = (w + PW - kw) / SW
//                    whole and in range of dcol[(n, oh, ow), (c, kh, kw)]
//
// One invocation per (c, row, n) on a 3-D grid (x = c, y = the row, z = n), looping along the
// row. Against one invocation per element with its indices peeled from a flat id (profile of
// the CRNN's 512 -> 512 2x2 backward at 2x25, medians, interleaved): col2im 5.2 ms against
// 9.7, im2col 2.1 against 3.2.

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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG: u32 = 64u;

// Invocation (c, oh, n) writes, for each ow, the run of KH * KW columns of row
// m = (n, oh, ow) that channel c owns (contiguous in col).
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let oh = gid.y;
  let n = gid.z;
  if (c >= params.c) { return; }
  let taps = params.kh * params.kw;
  let k_stride = params.c * taps; // K: one row of col
  let plane = (n * params.c + c) * params.h;
  // Top row of the windows in x, as i32: negative in the padding.
  let y0 = i32(oh * params.sh) - i32(params.ph);
  var out = ((n * params.oh + oh) * params.ow) * k_stride + c * taps;
  for (var ow = 0u; ow < params.ow; ow++) {
    let x0 = i32(ow * params.sw) - i32(params.pw);
    for (var a = 0u; a < params.kh; a++) {
      let y = y0 + i32(a);
      let row_ok = y >= 0 && y < i32(params.h);
      let row = (plane + u32(max(y, 0))) * params.w;
      for (var b = 0u; b < params.kw; b++) {
        let x = x0 + i32(b);
        var v = 0.0;
        if (row_ok && x >= 0 && x < i32(params.w)) { v = src[row + u32(x)]; }
        dst[out + a * params.kw + b] = v;
      }
    }
    out += k_stride;
  }
}

// Invocation (c, y, n) writes dx row y of channel c of item n. The row conditions (and their
// divisions by SH) are per invocation; per column the division by SW only where SW > 1.
@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let y = gid.y;
  let n = gid.z;
  if (c >= params.c) { return; }
  let taps = params.kh * params.kw;
  let k_stride = params.c * taps; // K: one row of dcol
  let out = ((n * params.c + c) * params.h + y) * params.w;
  for (var x = 0u; x < params.w; x++) {
    var s = 0.0;
    for (var a = 0u; a < params.kh; a++) {
      // oh * SH = y + PH - a must be whole and in range.
      let ry = i32(y + params.ph) - i32(a);
      if (ry < 0 || ry % i32(params.sh) != 0) { continue; }
      let oh = u32(ry) / params.sh;
      if (oh >= params.oh) { continue; }
      let row = (n * params.oh + oh) * params.ow;
      for (var b = 0u; b < params.kw; b++) {
        let rx = i32(x + params.pw) - i32(b);
        if (rx < 0) { continue; }
        var ow = u32(rx);
        if (params.sw > 1u) {
          if (ow % params.sw != 0u) { continue; }
          ow = ow / params.sw;
        }
        if (ow >= params.ow) { continue; }
        s += src[(row + ow) * k_stride + c * taps + a * params.kw + b];
      }
    }
    dst[out + x] = s;
  }
}
