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
override WG: u32 = 64;
override OPT: u32 = 4; // outputs per invocation along a row

struct Params {
  total: u32, // planes * ho * wob
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

// Tested on the bits: compilers may fold `v != v` to false.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let ob = i % params.wob;
  let t = i / params.wob;
  let oh = t % params.ho;
  let plane = t / params.ho;
  // Window rows in input coordinates; the start may be negative (top padding): work in
  // i32, then clip to [0, h). Shared by the OPT outputs of this row.
  let h0 = i32(oh * params.sh) - i32(params.ph);
  let h1 = min(h0 + i32(params.kh), i32(params.h));
  let hs = max(h0, 0);
  let w = i32(params.w);
  let base = plane * params.h * params.w;
  let obase = (plane * params.ho + oh) * params.wo;
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
    argmax[obase + ow] = best_idx;
  }
}
