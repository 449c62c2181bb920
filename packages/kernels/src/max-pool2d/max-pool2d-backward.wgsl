// Max pooling backward without atomics: dx[p, ih, iw] = sum of dy over the windows whose
// stored argmax is ih * W + iw (flat within plane p), 0 for elements no window chose.
// Two entry points over the same bindings:
//
// `cells` (stride >= kernel on both axes, the usual case): windows do not overlap, so every
//   input element belongs to at most one window. Cell (oh, ow) is the stride-sized block
//   rows [oh*sh - ph, (oh+1)*sh - ph) x columns [ow*sw - pw, (ow+1)*sw - pw), which holds
//   the window; the last cell of a row / column extends to the plane's edge, so the cells
//   tile the plane exactly (clipped to it) and each dx element is written once: dy of the
//   window at its argmax, 0 elsewhere. One invocation per OPT consecutive windows of a row,
//   indexed like the forward pass.
//
// `gather` (overlapping windows): one invocation per input element (p, ih, iw). It visits
//   every window that contains the element and adds dy where the window's argmax is this
//   element, in ascending (oh, ow) order: deterministic, and PyTorch's CPU summation order.
//   Rows of windows containing ih: oh * sh - ph <= ih <= oh * sh - ph + kh - 1, so
//     oh >= ceil((ih + ph - kh + 1) / sh)  (0 when the numerator is <= 0)
//     oh <= floor((ih + ph) / sh), clipped to ho - 1.  Columns likewise.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 64;
override OPT: u32 = 4; // windows per invocation along a row (`cells`)

struct Params {
  total: u32, // `cells`: planes * ho * wob; `gather`: planes * h * w
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
  wob: u32, // ceil(wo / OPT)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Start (clipped at 0) and end (exclusive, clipped at n; the last cell runs to n) of cell
// o of size s along an axis padded by p, with `count` cells.
fn cell_range(o: u32, s: u32, p: u32, n: u32, count: u32) -> vec2<u32> {
  let start = max(i32(o * s) - i32(p), 0);
  var end = n;
  if (o + 1u < count) { end = u32(max(min(i32((o + 1u) * s) - i32(p), i32(n)), 0)); }
  return vec2<u32>(u32(start), end);
}

@compute @workgroup_size(WG)
fn cells(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let ob = i % params.wob;
  let t = i / params.wob;
  let oh = t % params.ho;
  let plane = t / params.ho;
  let rows = cell_range(oh, params.sh, params.ph, params.h, params.ho);
  let base = plane * params.h * params.w;
  let obase = (plane * params.ho + oh) * params.wo;
  let ow_end = min(ob * OPT + OPT, params.wo);
  for (var ow = ob * OPT; ow < ow_end; ow++) {
    let cols = cell_range(ow, params.sw, params.pw, params.w, params.wo);
    let a = u32(argmax[obase + ow]);
    let g = dy[obase + ow];
    for (var ih = rows.x; ih < rows.y; ih++) {
      for (var iw = cols.x; iw < cols.y; iw++) {
        let e = ih * params.w + iw;
        dx[base + e] = select(0.0, g, e == a);
      }
    }
  }
}

// First window index along one axis whose window [o * s - p, o * s - p + k) contains i.
fn first_window(i: u32, k: u32, s: u32, p: u32) -> u32 {
  let a = i + p + 1u; // (i + p - k + 1) + k, kept unsigned
  if (a <= k) { return 0u; }
  return (a - k + s - 1u) / s;
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let iw = i % params.w;
  let t = i / params.w;
  let ih = t % params.h;
  let plane = t / params.h;
  let want_idx = i32(ih * params.w + iw);
  let oh0 = first_window(ih, params.kh, params.sh, params.ph);
  let ow0 = first_window(iw, params.kw, params.sw, params.pw);
  let oh1 = min((ih + params.ph) / params.sh + 1u, params.ho); // exclusive
  let ow1 = min((iw + params.pw) / params.sw + 1u, params.wo);
  let obase = plane * params.ho * params.wo;
  var g = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    for (var ow = ow0; ow < ow1; ow++) {
      let o = obase + oh * params.wo + ow;
      if (argmax[o] == want_idx) { g += dy[o]; }
    }
  }
  dx[i] = g;
}
