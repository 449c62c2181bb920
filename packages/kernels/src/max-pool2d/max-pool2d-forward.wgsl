// Max pooling over NCHW planes, forward. Each invocation computes OPT consecutive outputs
// of one output row (plane p = n * C + c, row oh, columns ob * OPT .. ob * OPT + OPT - 1),
// so the index arithmetic (divisions, costly on CPU drivers) is shared by OPT outputs.
//   y[p, oh, ow] = max over the window rows [oh*sh - ph, oh*sh - ph + kh) and columns
//   [ow*sw - pw, ow*sw - pw + kw), clipped to the plane (padding counts as -inf, so a padded
//   position can never win), and argmax[p, oh, ow] = ih * W + iw of the winner, a flat index
//   within the input plane (PyTorch's convention).
// Ties keep the first position in row-major window order (strict >); a NaN wins over
// everything and the last NaN in the window is kept, as PyTorch's CPU kernel does. The
// wrapper guarantees padding <= kernel / 2, so every clipped window holds a real element.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
//
// Two specialisations (entry points below) read x through vec2 / vec4 aliases of binding 1:
// on lavapipe each storage load with a varying index runs lane by lane, so the number of
// loads is the cost. A third, `rows`, serves every unpadded window with a 2-D grid and the
// window size as overrides, and `rows2` / `rows4` do the same for windows two columns wide
// on a stride of two with vec2 / vec4 loads. Same comparisons in the same order, so the same
// bits as `main`.
override WG: u32 = 64;
// 0: y only (inference, `maxPool2dValues`); binding 3 is then a placeholder never written.
override ARGMAX: u32 = 1;
override OPT: u32 = 4; // outputs per invocation along a row

struct Params {
  total: u32, // planes * ho * wob (`columns4`: planes * ho * (w / 4))
  h: u32,
  w: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  wob: u32, // ceil(wo / OPT): blocks per output row
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;

//!include "../elementwise/nan.inc.wgsl"

// Where invocation i of `main` / `pairs` works: block ob of OPT outputs in output row oh of
// plane `plane`; window rows [hs, h1) in input coordinates (the start may be negative with
// top padding: computed in i32, then clipped to [0, h)), shared by the OPT outputs; the
// output row's first element obase.
struct RowBlock {
  ob: u32,
  plane: u32,
  hs: i32,
  h1: i32,
  obase: u32,
}

fn row_block(i: u32) -> RowBlock {
  let ob = i % params.wob;
  let t = i / params.wob;
  let oh = t % params.ho;
  let plane = t / params.ho;
  let h0 = i32(oh * params.sh) - i32(params.ph);
  return RowBlock(ob, plane, max(h0, 0), min(h0 + i32(params.kh), i32(params.h)), (plane * params.ho + oh) * params.wo);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let rb = row_block(i);
  let ob = rb.ob;
  let hs = rb.hs;
  let h1 = rb.h1;
  let obase = rb.obase;
  let w = i32(params.w);
  let base = rb.plane * params.h * params.w;
  let ow_end = min(ob * OPT + OPT, params.wo);
  for (var ow = ob * OPT; ow < ow_end; ow++) {
    let w0 = i32(ow * params.sw) - i32(params.pw);
    let w1 = min(w0 + i32(params.kw), w);
    let ws = max(w0, 0);
    // Start from the window's first real element: the same result as starting from -inf
    // with that index (PyTorch's initial maxindex), without an infinite literal.
    var best_idx = hs * w + ws;
    var best = x[base + u32(best_idx)];
    for (var ih = hs; ih < h1; ih++) {
      let row = ih * w;
      for (var iw = ws; iw < w1; iw++) {
        let v = x[base + u32(row + iw)];
        if (v > best || is_nan(v)) {
          best = v;
          best_idx = row + iw;
        }
      }
    }
    y[obase + ow] = best;
    if (ARGMAX == 1u) { argmax[obase + ow] = best_idx; }
  }
}

// `pairs`: windows two columns wide on a stride of two with no column padding (kw = sw = 2,
// pw = 0) over an even plane width W. Window (oh, ow) covers columns 2*ow and 2*ow + 1, which
// form vec2 number (p*H*W + ih*W)/2 + ow of x (p*H*W and ih*W are even): one vec2 load per
// window row instead of two scalar loads. Rows (kh, sh, ph) and OPT as in `main`.
@group(0) @binding(1) var<storage, read> x2: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn pairs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let rb = row_block(i);
  let ob = rb.ob;
  let hs = rb.hs;
  let h1 = rb.h1;
  let obase = rb.obase;
  let w = i32(params.w);
  let w2 = params.w / 2u;
  let base2 = rb.plane * params.h * w2; // plane start, in vec2s
  let ow_end = min(ob * OPT + OPT, params.wo);
  for (var ow = ob * OPT; ow < ow_end; ow++) {
    let col = i32(2u * ow);
    // Seeded with the window's first element, which the loop compares again (never >
    // itself; a NaN stays): the same sequence of comparisons as the generic kernel.
    var best = x2[base2 + u32(hs) * w2 + ow].x;
    var best_idx = hs * w + col;
    for (var ih = hs; ih < h1; ih++) {
      let v = x2[base2 + u32(ih) * w2 + ow];
      if (v.x > best || is_nan(v.x)) {
        best = v.x;
        best_idx = ih * w + col;
      }
      if (v.y > best || is_nan(v.y)) {
        best = v.y;
        best_idx = ih * w + col + 1;
      }
    }
    y[obase + ow] = best;
    if (ARGMAX == 1u) { argmax[obase + ow] = best_idx; }
  }
}

// `columns4`: windows one column wide on a stride of one with no column padding (kw = sw = 1,
// pw = 0: CRNN's (2, 1) pools) over W % 4 == 0. Output row (p, oh) then has W columns and
// output column ow pools input column ow, so one invocation computes a vec4 of outputs from
// one vec4 load per window row and stores y and argmax as vec4s. Vec4 number v of an input
// row: (p*H*W + ih*W)/4 + v; W % 4 == 0 keeps rows vec4-aligned.
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> argmax4: array<vec4<i32>>;

@compute @workgroup_size(WG)
fn columns4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let w4 = params.w / 4u;
  let v = i % w4;
  let t = i / w4;
  let oh = t % params.ho;
  let plane = t / params.ho;
  let h0 = i32(oh * params.sh) - i32(params.ph);
  let h1 = min(h0 + i32(params.kh), i32(params.h));
  let hs = max(h0, 0);
  let base4 = plane * params.h * w4;
  // Flat in-plane index of the four columns in row 0: 4v .. 4v+3.
  let cols = vec4(i32(4u * v)) + vec4(0, 1, 2, 3);
  let w = i32(params.w);
  var best = x4[base4 + u32(hs) * w4 + v];
  var best_idx = vec4(hs * w) + cols;
  for (var ih = hs; ih < h1; ih++) {
    let r = x4[base4 + u32(ih) * w4 + v];
    let take = (r > best) | is_nan4(r);
    best = select(best, r, take);
    best_idx = select(best_idx, vec4(ih * w) + cols, take);
  }
  // Output row (plane, oh) starts at (plane * ho + oh) * W, a multiple of 4.
  let o = (plane * params.ho + oh) * w4 + v;
  y4[o] = best;
  if (ARGMAX == 1u) { argmax4[o] = best_idx; }
}

// `rows`: any window and stride without padding (ph = pw = 0), so every window lies inside
// the plane (floor mode): CRNN's (2, 1) pools at W = 25, where `columns4` does not apply,
// and the (2, 2) ones. A 2-D grid: gid.x is a block of params.wob consecutive output columns
// (4, or a whole output row on a software adapter when there are rows enough to share out:
// fewer, longer invocations measured faster on lavapipe), gid.y (folded into z past the
// per-dimension limit) the output row r = plane * ho + oh, so there is one division per
// invocation instead of four; the window is KH x KW, both overrides, so its loops unroll.
// Window (oh, ow) reads input rows oh*sh .. + KH - 1 and columns ow*sw .. + KW - 1. Same
// comparisons in the same order as `main` (rows, then columns, the first element compared
// with itself first), so the same bits. The workgroup is RX x RY invocations (8 x 8, or
// 1 x 64 for whole rows).
override KH: u32 = 2u;
override KW: u32 = 1u;
override RX: u32 = 8u;
override RY: u32 = 8u;

// Where invocation gid of the `rows` family works: output row r, columns [c0, c1); input
// row h0 (the window's first), whose first element is x[ibase]; output row start obase.
// ok is false past the grid's edge.
struct RowSpan {
  ok: bool,
  c0: u32,
  c1: u32,
  h0: u32,
  ibase: u32,
  obase: u32,
}

fn row_span(gid: vec3<u32>, nwg: vec3<u32>) -> RowSpan {
  let r = gid.y + gid.z * nwg.y * RY;
  let c0 = gid.x * params.wob;
  if (r >= params.total || c0 >= params.wo) { // total: output rows, planes * ho
    return RowSpan(false, 0u, 0u, 0u, 0u, 0u);
  }
  let plane = r / params.ho;
  let oh = r - plane * params.ho;
  let h0 = oh * params.sh;
  return RowSpan(true, c0, min(c0 + params.wob, params.wo), h0, (plane * params.h + h0) * params.w, r * params.wo);
}

@compute @workgroup_size(RX, RY)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = row_span(gid, nwg);
  if (!s.ok) { return; }
  let w = params.w;
  let h0 = s.h0;
  let ibase = s.ibase;
  let obase = s.obase;
  for (var c = s.c0; c < s.c1; c++) {
    let w0 = c * params.sw;
    var best = x[ibase + w0];
    var best_idx = i32(h0 * w + w0);
    for (var k = 0u; k < KH; k++) {
      for (var j = 0u; j < KW; j++) {
        let v = x[ibase + k * w + w0 + j];
        if (v > best || is_nan(v)) {
          best = v;
          best_idx = i32((h0 + k) * w + w0 + j);
        }
      }
    }
    y[obase + c] = best;
    if (ARGMAX == 1u) { argmax[obase + c] = best_idx; }
  }
}

// `rows2` / `rows4`: `rows` for windows two columns wide on a stride of two (KW = 2, sw = 2,
// no padding) over an even W, reading x through the vec2 / vec4 aliases. Window row k of
// output column c is input columns 2c and 2c + 1 of row h0 + k: vec2 number
// (ibase + k*w)/2 + c, as ibase and w are even. `rows4` (W % 4 == 0) takes the two windows
// c, c + 1 (c even) from one vec4, number (ibase + k*w)/4 + c/2, and stores their two
// outputs as one vec2: obase = r * wo is even, as wo = W / 2 is, and so are the block bounds
// c0 and c1 (whole rows or ROWS_BLOCK = 4 columns). One vector load per window row instead
// of two (four) scalar ones; on lavapipe the number of per-lane loads is the cost. Same
// comparisons in the same order as `rows`: the first element's comparison with itself is
// left out, as it never changes best (a NaN replaces itself with the same index).
@group(0) @binding(2) var<storage, read_write> y2: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> argmax2: array<vec2<i32>>;

@compute @workgroup_size(RX, RY)
fn rows2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = row_span(gid, nwg);
  if (!s.ok) { return; }
  let w = params.w;
  let h0 = s.h0;
  let ibase2 = s.ibase / 2u;
  let w2 = w / 2u;
  let obase = s.obase;
  for (var c = s.c0; c < s.c1; c++) {
    let col = i32(h0 * w + 2u * c);
    let v0 = x2[ibase2 + c];
    var best = v0.x;
    var best_idx = col;
    if (v0.y > best || is_nan(v0.y)) {
      best = v0.y;
      best_idx = col + 1;
    }
    for (var k = 1u; k < KH; k++) {
      let v = x2[ibase2 + k * w2 + c];
      let idx = col + i32(k * w);
      if (v.x > best || is_nan(v.x)) {
        best = v.x;
        best_idx = idx;
      }
      if (v.y > best || is_nan(v.y)) {
        best = v.y;
        best_idx = idx + 1;
      }
    }
    y[obase + c] = best;
    if (ARGMAX == 1u) { argmax[obase + c] = best_idx; }
  }
}

@compute @workgroup_size(RX, RY)
fn rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = row_span(gid, nwg);
  if (!s.ok) { return; }
  let w = params.w;
  let h0 = s.h0;
  let ibase4 = s.ibase / 4u;
  let w4 = w / 4u;
  let obase2 = s.obase / 2u;
  for (var c = s.c0; c < s.c1; c += 2u) {
    let q = c / 2u;
    // Flat in-plane index of the first column of windows c and c + 1 in row h0.
    let col = vec2(i32(h0 * w + 2u * c)) + vec2(0, 2);
    let v0 = x4[ibase4 + q];
    var best = v0.xz;
    var best_idx = col;
    let t0 = v0.yw;
    let take0 = (t0 > best) | is_nan2(t0);
    best = select(best, t0, take0);
    best_idx = select(best_idx, col + vec2(1), take0);
    for (var k = 1u; k < KH; k++) {
      let v = x4[ibase4 + k * w4 + q];
      let idx = col + vec2(i32(k * w));
      let a = v.xz;
      let ta = (a > best) | is_nan2(a);
      best = select(best, a, ta);
      best_idx = select(best_idx, idx, ta);
      let b = v.yw;
      let tb = (b > best) | is_nan2(b);
      best = select(best, b, tb);
      best_idx = select(best_idx, idx + vec2(1), tb);
    }
    y2[obase2 + q] = best;
    if (ARGMAX == 1u) { argmax2[obase2 + q] = best_idx; }
  }
}
