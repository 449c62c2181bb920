// Direct convolution as an implicit GEMM tuned for CPU adapters (lavapipe), where one
// workgroup of 8 invocations is one SIMD vector, loads with a computed index cost a few
// instructions per lane and component, and a value broadcast from a fixed lane is a register
// shuffle. Used for the forward pass, and for dx as the forward of dy with flipped weights.
//
//   y[n, o, oy, ox] = bias[o] + sum_{c, ky, kx} w[o, c, ky, kx] * xp[n, c, oy*SH + ky, ox*SW + kx]
//
// xp is the input zero-padded by conv2d-pad.wgsl (so no bounds checks here) with rows of
// WP = 4 * wp4 floats, read as aligned vec4. One workgroup computes 16 output channels
// o0 .. o0+15 for 8 "slots"; a slot (one invocation) is 4 consecutive output columns
// ox0 .. ox0+3 of one output row, so each lane holds 16 vec4 accumulators (channel x column).
//
// Per (c, ky) every lane loads
//   - its input window xp[n, c, oy*SH + ky, 4*SW*chunk ..] : NV vec4 covering the
//     3*SW + KW values that the 4 columns x KW taps read;
//   - the weights of its output channels o0 + lane and o0 + 8 + lane for the KW taps, packed
//     by conv2d-pack.wgsl as [O/16][C][KH][lane][NWV vec4] with slot s = 2*kx + half.
// Then for each tap kx, subgroupBroadcast(w, L) hands every lane the weight of channel
// o0 + L (or o0 + 8 + L) and each lane does acc[L] += w * (its 4 shifted inputs): 16 vec4
// multiply-adds per tap, with only NWV + NV vec4 loads per lane per (c, ky).
// (A tile of 16 channels wastes work when there are fewer than 9; a second tile size would
// double the pipelines to compile, which costs more than it saves for such small layers.)
//
// The accumulators and the wv / win arrays must stay in registers, so every index into them
// is a constant: the taps are calls with constant kx (inlined), the stores are spelled out,
// and the only loops over them are the short load loops with override-constant bounds.
//
// One workgroup is exactly one subgroup (the wrapper takes this path only when the adapter's
// subgroups have at least 8 invocations), which is what subgroupBroadcast relies on.
enable subgroups;

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

// Largest KW and 3*SW + KW the private arrays hold (the wrapper checks before choosing this path).
const NWV_MAX: u32 = 8u;  // ceil(KW / 2) <= 8  ->  KW <= 16
const NV_MAX: u32 = 8u;   // ceil((3*SW + KW) / 4) <= 8

struct Params {
  c: u32,       // input channels
  o: u32,       // output channels
  oh: u32,
  ow: u32,
  hp: u32,      // rows of xp
  wp4: u32,     // row length of xp / 4
  cpr: u32,     // 4-column chunks per output row: ceil(OW / 4)
  nslots: u32,  // N * OH * cpr
  has_bias: u32,  // a runtime flag (not an override) so that dx shares the forward's pipeline
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let nwv = (KW + 1u) / 2u;              // weight vec4 per lane per (c, ky): 2 channels x KW taps
  let nv = (3u * SW + KW + 3u) / 4u;     // window vec4 per (c, ky)
  let plane4 = params.hp * params.wp4;   // vec4 per input channel plane
  let o0 = wid.y * 16u;

  // Slot -> (n, oy, chunk); slot groups of 8 fold over x and z (z past 65535 groups).
  // Lanes past the end redo the last slot and store nothing.
  let slot_raw = (wid.x + wid.z * nwg.x) * 8u + lane;
  let slot = min(slot_raw, params.nslots - 1u);
  let row = slot / params.cpr;             // n * OH + oy
  let chunk = slot - row * params.cpr;
  let n = row / params.oh;
  let oy = row - n * params.oh;
  // Output column ox0 = 4*chunk reads xp columns from 4*SW*chunk, i.e. vec4 SW*chunk.
  var xo = n * params.c * plane4 + oy * SH * params.wp4 + chunk * SW;
  var wo = (wid.y * params.c * KH * 8u + lane) * nwv;

  var acc: array<vec4<f32>, 16>;
  for (var c = 0u; c < params.c; c++) {
    for (var ky = 0u; ky < KH; ky++) {
      var wv: array<vec4<f32>, NWV_MAX>;
      for (var v = 0u; v < nwv; v++) { wv[v] = wp[wo + v]; }
      var win: array<vec4<f32>, NV_MAX>;
      for (var v = 0u; v < nv; v++) { win[v] = xp[xo + v]; }
      // The taps are spelled out (constant kx) rather than looped: the accumulators and
      // the wv / win arrays stay in registers only while every index is a constant, and a
      // compiler may decline to unroll a loop with a body this large.
      tap(&acc, &wv, &win, 0u);
      if (KW > 1u) { tap(&acc, &wv, &win, 1u); }
      if (KW > 2u) { tap(&acc, &wv, &win, 2u); }
      if (KW > 3u) { tap(&acc, &wv, &win, 3u); }
      if (KW > 4u) { tap(&acc, &wv, &win, 4u); }
      if (KW > 5u) { tap(&acc, &wv, &win, 5u); }
      if (KW > 6u) { tap(&acc, &wv, &win, 6u); }
      if (KW > 7u) { tap(&acc, &wv, &win, 7u); }
      if (KW > 8u) { tap(&acc, &wv, &win, 8u); }
      if (KW > 9u) { tap(&acc, &wv, &win, 9u); }
      if (KW > 10u) { tap(&acc, &wv, &win, 10u); }
      if (KW > 11u) { tap(&acc, &wv, &win, 11u); }
      if (KW > 12u) { tap(&acc, &wv, &win, 12u); }
      if (KW > 13u) { tap(&acc, &wv, &win, 13u); }
      if (KW > 14u) { tap(&acc, &wv, &win, 14u); }
      if (KW > 15u) { tap(&acc, &wv, &win, 15u); }
      xo += params.wp4;
      wo += 8u * nwv;
    }
    // Next channel plane, back to row oy*SH.
    xo += plane4 - KH * params.wp4;
  }

  if (slot_raw >= params.nslots) { return; }
  // Spelled out with constant indices: a loop over acc[i] that the compiler declined to
  // unroll would move every accumulator to memory.
  let ybase = n * params.o * params.oh * params.ow + oy * params.ow + chunk * 4u;
  put(ybase, chunk * 4u, o0, acc[0]);
  put(ybase, chunk * 4u, o0 + 1u, acc[1]);
  put(ybase, chunk * 4u, o0 + 2u, acc[2]);
  put(ybase, chunk * 4u, o0 + 3u, acc[3]);
  put(ybase, chunk * 4u, o0 + 4u, acc[4]);
  put(ybase, chunk * 4u, o0 + 5u, acc[5]);
  put(ybase, chunk * 4u, o0 + 6u, acc[6]);
  put(ybase, chunk * 4u, o0 + 7u, acc[7]);
  put(ybase, chunk * 4u, o0 + 8u, acc[8]);
  put(ybase, chunk * 4u, o0 + 9u, acc[9]);
  put(ybase, chunk * 4u, o0 + 10u, acc[10]);
  put(ybase, chunk * 4u, o0 + 11u, acc[11]);
  put(ybase, chunk * 4u, o0 + 12u, acc[12]);
  put(ybase, chunk * 4u, o0 + 13u, acc[13]);
  put(ybase, chunk * 4u, o0 + 14u, acc[14]);
  put(ybase, chunk * 4u, o0 + 15u, acc[15]);
}

// Tap kx of the current (c, ky): column m of the slot reads window element m*SW + kx; the
// lane holds the weights of channels o0 + lane (slot 2*kx) and o0 + 8 + lane (2*kx + 1).
fn tap(acc: ptr<function, array<vec4<f32>, 16>>, wv: ptr<function, array<vec4<f32>, NWV_MAX>>, win: ptr<function, array<vec4<f32>, NV_MAX>>, kx: u32) {
  // Column m of this slot reads window element m*SW + kx.
  let j0 = kx;
  let j1 = SW + kx;
  let j2 = 2u * SW + kx;
  let j3 = 3u * SW + kx;
  let xs = vec4<f32>((*win)[j0 / 4u][j0 % 4u], (*win)[j1 / 4u][j1 % 4u], (*win)[j2 / 4u][j2 % 4u], (*win)[j3 / 4u][j3 % 4u]);
  let s0 = 2u * kx;        // channel o0 + lane
  let s1 = s0 + 1u;        // channel o0 + 8 + lane
  let wa = (*wv)[s0 / 4u][s0 % 4u];
  let wb = (*wv)[s1 / 4u][s1 % 4u];
  (*acc)[0] += subgroupBroadcast(wa, 0u) * xs;
  (*acc)[1] += subgroupBroadcast(wa, 1u) * xs;
  (*acc)[2] += subgroupBroadcast(wa, 2u) * xs;
  (*acc)[3] += subgroupBroadcast(wa, 3u) * xs;
  (*acc)[4] += subgroupBroadcast(wa, 4u) * xs;
  (*acc)[5] += subgroupBroadcast(wa, 5u) * xs;
  (*acc)[6] += subgroupBroadcast(wa, 6u) * xs;
  (*acc)[7] += subgroupBroadcast(wa, 7u) * xs;
  (*acc)[8] += subgroupBroadcast(wb, 0u) * xs;
  (*acc)[9] += subgroupBroadcast(wb, 1u) * xs;
  (*acc)[10] += subgroupBroadcast(wb, 2u) * xs;
  (*acc)[11] += subgroupBroadcast(wb, 3u) * xs;
  (*acc)[12] += subgroupBroadcast(wb, 4u) * xs;
  (*acc)[13] += subgroupBroadcast(wb, 5u) * xs;
  (*acc)[14] += subgroupBroadcast(wb, 6u) * xs;
  (*acc)[15] += subgroupBroadcast(wb, 7u) * xs;
}

// Stores the 4 columns ox0 .. ox0+3 of output channel o (those inside the output), + bias.
fn put(ybase: u32, ox0: u32, o: u32, v: vec4<f32>) {
  if (o >= params.o) { return; }
  var b = 0.0;
  if (params.has_bias == 1u) { b = bias[o]; }
  let yo = ybase + o * params.oh * params.ow;
  y[yo] = v.x + b;
  if (ox0 + 1u < params.ow) { y[yo + 1u] = v.y + b; }
  if (ox0 + 2u < params.ow) { y[yo + 2u] = v.z + b; }
  if (ox0 + 3u < params.ow) { y[yo + 3u] = v.w + b; }
}
