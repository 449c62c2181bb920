// The two reshuffles of the GEMM form of a convolution (conv2d.ts, gemm path):
//
//   col [M, K]   M = N * OH * OW rows m = (n, oh, ow), K = C * KH * KW columns k = (c, kh, kw)
//   col[m, k] = x[n, c, oh*SH - PH + kh, ow*SW - PW + kw]   (0 in the padding)
//
// so that dw [O, K] = dyᵀ col and dcol = dy w with dy as [M, O] and w as [O, K]; the matmuls
// run between im2col and col2im. col2im is the adjoint of im2col, written as a gather (one dx
// row per invocation, each element a sum over the taps that read it) so that no two
// invocations write the same element:
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

// im2col's source x[n, c, y, x] for a row known valid or not (row: the row's first float), 0
// outside the plane.
fn at(row_ok: bool, row: u32, x: i32) -> f32 {
  if (row_ok && x >= 0 && x < i32(params.w)) { return src[row + u32(x)]; }
  return 0.0;
}

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
        dst[out + a * params.kw + b] = at(row_ok, row, x0 + i32(b));
      }
    }
    out += k_stride;
  }
}

// Invocation (c, y, n) writes dx row y of channel c of item n. Per tap the division by SW
// only where SW > 1 (stride 1 needs none).
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

// 2x2 kernels at stride 1 (the CRNN's last convolution): the four taps of (m, c) are one
// aligned vec4 of col (K = 4 * C), and along a row each window shares a column with the next,
// so im2col22 loads two new values per output column (carrying the other two) and stores one
// vec4, where im2col does four loads and four stores; col2im22 loads the two vec4 of dcol
// that an element's taps lie in, carrying each along the row to the next element, where
// col2im does four scalar loads. On lavapipe, which loads and stores lane by lane, the number
// of accesses is the cost. Same sums in the same order (a, then b) as the generic entries.
@group(0) @binding(1) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn im2col22(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let oh = gid.y;
  let n = gid.z;
  if (c >= params.c) { return; }
  let plane = (n * params.c + c) * params.h;
  let y0 = i32(oh) - i32(params.ph);
  let ok0 = y0 >= 0 && y0 < i32(params.h);
  let ok1 = y0 + 1 >= 0 && y0 + 1 < i32(params.h);
  let row0 = (plane + u32(max(y0, 0))) * params.w;
  let row1 = (plane + u32(max(y0 + 1, 0))) * params.w;
  // Window column 0 of output column ow is x = ow - PW; column 1 is the next window's 0.
  var x = -i32(params.pw);
  var p0 = at(ok0, row0, x);
  var p1 = at(ok1, row1, x);
  // vec4 index of (m, c): m * C + c.
  var out = ((n * params.oh + oh) * params.ow) * params.c + c;
  for (var ow = 0u; ow < params.ow; ow++) {
    let q0 = at(ok0, row0, x + 1);
    let q1 = at(ok1, row1, x + 1);
    dst4[out] = vec4(p0, q0, p1, q1);
    p0 = q0;
    p1 = q1;
    x += 1;
    out += params.c;
  }
}

@compute @workgroup_size(WG)
fn col2im22(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let y = gid.y;
  let n = gid.z;
  if (c >= params.c) { return; }
  // Tap row a reads dcol row oh = y + PH - a, when in range.
  let oh0 = i32(y + params.ph);
  let oh1 = oh0 - 1;
  let ok0 = oh0 < i32(params.oh);
  let ok1 = oh1 >= 0 && oh1 < i32(params.oh);
  let m0 = (n * params.oh + u32(max(oh0, 0))) * params.ow;
  let m1 = (n * params.oh + u32(max(oh1, 0))) * params.ow;
  // dx column x takes tap b = 0 from dcol column ow = x + PW and b = 1 from ow - 1: carry
  // the vec4 of column ow - 1 (zero outside) from the previous element.
  var ow = i32(params.pw);
  var prev0 = vec4(0.0);
  var prev1 = vec4(0.0);
  if (ow >= 1 && ow - 1 < i32(params.ow)) {
    if (ok0) { prev0 = src4[(m0 + u32(ow - 1)) * params.c + c]; }
    if (ok1) { prev1 = src4[(m1 + u32(ow - 1)) * params.c + c]; }
  }
  let out = ((n * params.c + c) * params.h + y) * params.w;
  for (var x = 0u; x < params.w; x++) {
    var cur0 = vec4(0.0);
    var cur1 = vec4(0.0);
    if (ow < i32(params.ow)) {
      if (ok0) { cur0 = src4[(m0 + u32(ow)) * params.c + c]; }
      if (ok1) { cur1 = src4[(m1 + u32(ow)) * params.c + c]; }
    }
    var s = 0.0;
    s += cur0.x;
    s += prev0.y;
    s += cur1.z;
    s += prev1.w;
    dst[out + x] = s;
    prev0 = cur0;
    prev1 = cur1;
    ow += 1;
  }
}
