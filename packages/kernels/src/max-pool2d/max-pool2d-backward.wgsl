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
// `columns4` / `pairs4`: `cells` for windows that tile the plane exactly without padding,
//   KH rows on a row stride of KH (H = ho * KH) and one column on a stride of one (`columns4`,
//   CRNN's (2, 1) pools) or two on a stride of two (`pairs4`, the 2x2 ones), over W % 4 == 0.
//   One invocation per four input columns of one output row (p, oh): input columns 4q ..
//   4q + 3 belong to windows 4q .. 4q + 3 (`columns4`) or 2q, 2q + 1 (`pairs4`), whose dy and
//   argmax it reads as one vec4 / vec2 each, and it writes the KH x 4 block of dx as KH vec4
//   stores (rows p * H * W + (oh * KH + k) * W, multiples of 4). On lavapipe each storage
//   access with a varying index runs lane by lane, so 1 + KH accesses per four columns
//   instead of 2 + KH per window. Each element gets the same value as from `cells`.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 64;
override KH: u32 = 2u; // columns4 / pairs4: window rows = row stride
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

@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> argmax4: array<vec4<i32>>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4<f32>>;

// Where invocation i of columns4 / pairs4 works: plane, output row oh, block q of four input
// columns; false past the end (total: planes * ho * (w / 4)).
struct Block4 {
  ok: bool,
  plane: u32,
  oh: u32,
  q: u32,
}

fn block4(i: u32) -> Block4 {
  if (i >= params.total) { return Block4(false, 0u, 0u, 0u); }
  let w4 = params.w / 4u;
  let q = i % w4;
  let t = i / w4;
  return Block4(true, t / params.ho, t % params.ho, q);
}

// Writes the block's KH rows of four columns: column j of every row gets g[j] where the
// window owning that column chose it (its flat in-plane index ih * W + iw equals a[j]), else 0.
fn store_block(b: Block4, g: vec4<f32>, a: vec4<i32>) {
  let w4 = params.w / 4u;
  for (var k = 0u; k < KH; k++) {
    let ih = b.oh * KH + k;
    let e = vec4(i32(ih * params.w + 4u * b.q)) + vec4(0, 1, 2, 3);
    dx4[(b.plane * params.h + ih) * w4 + b.q] = select(vec4(0.0), g, e == a);
  }
}

@compute @workgroup_size(WG)
fn columns4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = block4(gid.x + gid.y * nwg.x * WG);
  if (!b.ok) { return; }
  // Output row (plane, oh) has W windows: vec4 q of it covers windows 4q .. 4q + 3.
  let o = (b.plane * params.ho + b.oh) * (params.w / 4u) + b.q;
  store_block(b, dy4[o], argmax4[o]);
}

@group(0) @binding(1) var<storage, read> dy2: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> argmax2: array<vec2<i32>>;

@compute @workgroup_size(WG)
fn pairs4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = block4(gid.x + gid.y * nwg.x * WG);
  if (!b.ok) { return; }
  // Output row (plane, oh) has W / 2 windows: vec2 q of it covers windows 2q and 2q + 1,
  // which own input columns 4q, 4q + 1 and 4q + 2, 4q + 3.
  let o = (b.plane * params.ho + b.oh) * (params.w / 4u) + b.q;
  let g = dy2[o];
  let a = argmax2[o];
  store_block(b, vec4(g.x, g.x, g.y, g.y), vec4(a.x, a.x, a.y, a.y));
}
