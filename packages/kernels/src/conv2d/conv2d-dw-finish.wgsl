// Second pass of the fast weight gradient: adds the per-split partial sums that
// conv2d-dw-fast.wgsl / conv2d-dw-small.wgsl wrote as part[split][o / 8][cpad][tap][o % 8] into
//   dw[o, c, tap]  (tap = ky * KW + kx, i.e. dw is [O, C, KH, KW])
// storing, or adding to dw when ACCUMULATE (gradient accumulation). One invocation per
// (o, c) pair, grid x = c, y = o (no divisions), looping over the taps and splits.
override WG: u32 = 64u;
override ACCUMULATE: u32 = 0u;

struct Params {
  o: u32,
  c: u32,
  ntap: u32,
  cpad: u32,
  splits: u32,
  nob: u32,     // blocks of 8 output channels in part (at least ceil(o / 8))
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let o = gid.y;
  if (c >= params.c || o >= params.o) { return; }
  let nob = params.nob;
  // (split 0, o / 8, c, tap 0, o % 8); the next tap is 8 further, the next split
  // nob * cpad * ntap * 8 further.
  let p0 = ((o / 8u) * params.cpad + c) * params.ntap * 8u + o % 8u;
  let stride = nob * params.cpad * params.ntap * 8u;
  let d0 = (o * params.c + c) * params.ntap;
  for (var t = 0u; t < params.ntap; t++) {
    var s = 0.0;
    var p = p0 + 8u * t;
    for (var k = 0u; k < params.splits; k++) {
      s += part[p];
      p += stride;
    }
    if (ACCUMULATE == 1u) { dw[d0 + t] += s; } else { dw[d0 + t] = s; }
  }
}
