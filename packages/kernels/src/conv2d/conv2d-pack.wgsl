// Packs conv weights w [O, C, KH, KW] for conv2d-fast.wgsl:
//
//   packed[ob][ic][ky][lane][s]   s in [0, NSLOT), NSLOT = 4 * ceil(KW / 2)
//   slot s = 2 * kx + half holds the weight of output channel oc = 16*ob + 8*half + lane
//   for input channel ic, tap (ky, kx).
//
// The wrapper clears packed first, so the slots past KW or past the output channels stay 0;
// this writes the KH*KW taps of one (oc, ic) pair per invocation (grid x = oc, y = ic), so
// that no invocation divides.
// FLIP = 0: the forward convolution, oc = o and ic = c.
// FLIP = 1: dx as a convolution of dy: output channels are x's channels and input channels
//           are dy's, with the taps rotated by 180 degrees:
//           packed value = w[ic, oc, KH - 1 - ky, KW - 1 - kx].
override WG: u32 = 64u;
override FLIP: u32 = 0u;

struct Params {
  o: u32,       // output channels of the convolution being packed for (O, or C when FLIP)
  c: u32,       // its input channels (C, or O when FLIP)
  kh: u32,
  kw: u32,
  nslot: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> packed: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let oc = gid.x;
  let ic = gid.y;
  if (oc >= params.o || ic >= params.c) { return; }
  let ntap = params.kh * params.kw;
  // Source taps of this pair, contiguous: w[oc, ic, :, :] or (FLIP) w[ic, oc, :, :].
  var src = (oc * params.c + ic) * ntap;
  if (FLIP == 1u) { src = (ic * params.o + oc) * ntap; }
  let lane = oc % 8u;
  let half = (oc / 8u) % 2u;
  var dst = (((oc / 16u) * params.c + ic) * params.kh * 8u + lane) * params.nslot + half;
  for (var ky = 0u; ky < params.kh; ky++) {
    for (var kx = 0u; kx < params.kw; kx++) {
      // The forward tap (ky, kx) is source tap ky*KW + kx; flipped, it is the last minus that.
      var t = ky * params.kw + kx;
      if (FLIP == 1u) { t = ntap - 1u - t; }
      packed[dst + 2u * kx] = w[src + t];
    }
    dst += 8u * params.nslot;
  }
}
