// Weight gradient of conv2d, tuned for CPU adapters like conv2d-fast.wgsl (8-invocation
// workgroups = one SIMD vector, subgroupBroadcast from fixed lanes):
//
//   dw[o, c, ky, kx] = sum_{n, oy, ox} dy[n, o, oy, ox] * xp[n, c, oy*SH + ky, ox*SW + kx]
//
// a GEMM whose reduction runs over every output position. dyp is dy zero-padded to
// [N, O, OHP, 4*cpr] (OHP a multiple of RPS) and xp is x zero-padded by (ph, pw) and
// tall/wide enough for every window, so padding positions contribute 0 and the loop has no
// bounds checks.
//
// One workgroup: 8 output channels o0 .. o0+7 (wid.x) times 8 input channels, one per lane
// (c = c0 + lane, wid.y), over the batch items of split wid.z. A step covers RPS (2, or 1
// for short odd heights) output rows x 4 output columns: every lane loads
//   - dy of channel o0 + lane for those positions (RPS vec4), which subgroupBroadcast then
//     hands to all lanes, and
//   - the (RPS-1)*SH + KH input rows x NV vec4 of its own channel's window;
// and accumulates, per output position and tap t = ky*KW + kx, acc[2t] (channels
// o0..o0+3) and acc[2t+1] (o0+4..o0+7) += dy[o, position] * x[position + tap]: 8
// multiply-adds per tap and position, 8 broadcast dy values live at a time.
//
// The accumulators must stay in registers, so they are only ever indexed by constants: the
// taps are spelled out as calls with constant arguments (inlined by the compiler) instead of
// loops, whose unrolling a shader compiler may decline for large bodies.
//
// Each lane writes its sums unconditionally, two vec4 per tap, to
//   part[split][ob][cpad][tap][8 channels]      (cpad = channels rounded up to 8)
// and conv2d-dw-finish.wgsl adds the splits into dw [O, C, KH, KW] (or into the gradient
// being accumulated). Per-channel bounds checks and read-modify-writes here would multiply
// the per-lane store code that the CPU compiler has to chew through for every tap.
enable subgroups;

override KH: u32 = 3u;   // <= 4
override KW: u32 = 3u;   // <= 4
override SH: u32 = 1u;
override SW: u32 = 1u;
override RPS: u32 = 2u;  // output rows per step: 1 or 2

const NV_MAX: u32 = 4u;  // window vec4 per input row: ceil((3*SW + KW) / 4) <= 4
const NR_MAX: u32 = 8u;  // input rows per step: (RPS - 1) * SH + KH <= 8

struct Params {
  n: u32,
  c: u32,
  o: u32,
  ohp: u32,     // rows of dyp (a multiple of RPS)
  cpr: u32,     // 4-column chunks per dy row (dyp rows hold 4*cpr floats)
  hp: u32,      // rows of xp
  wp4: u32,     // row length of xp / 4
  nper: u32,    // batch items per split
  cpad: u32,    // input channels rounded up to 8
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dyp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;

// One output position (row i, column m): dy of channels o0..o0+3 (ba) and o0+4..o0+7 (bb),
// broadcast from the lanes that loaded them, times the input under each tap.
fn position(acc: ptr<function, array<vec4<f32>, 32>>, win: ptr<function, array<vec4<f32>, 32>>, v: f32, i: u32, m: u32) {
  let ba = vec4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
  let bb = vec4<f32>(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
  tapRow(acc, win, ba, bb, i, m, 0u);
  if (KH > 1u) { tapRow(acc, win, ba, bb, i, m, 1u); }
  if (KH > 2u) { tapRow(acc, win, ba, bb, i, m, 2u); }
  if (KH > 3u) { tapRow(acc, win, ba, bb, i, m, 3u); }
}

fn tapRow(acc: ptr<function, array<vec4<f32>, 32>>, win: ptr<function, array<vec4<f32>, 32>>, ba: vec4<f32>, bb: vec4<f32>, i: u32, m: u32, ky: u32) {
  tap(acc, win, ba, bb, i, m, ky, 0u);
  if (KW > 1u) { tap(acc, win, ba, bb, i, m, ky, 1u); }
  if (KW > 2u) { tap(acc, win, ba, bb, i, m, ky, 2u); }
  if (KW > 3u) { tap(acc, win, ba, bb, i, m, ky, 3u); }
}

// Tap (ky, kx) at output (row i, column m) reads input row i*SH + ky, window element m*SW + kx.
fn tap(acc: ptr<function, array<vec4<f32>, 32>>, win: ptr<function, array<vec4<f32>, 32>>, ba: vec4<f32>, bb: vec4<f32>, i: u32, m: u32, ky: u32, kx: u32) {
  let j = m * SW + kx;
  let xv = (*win)[(i * SH + ky) * NV_MAX + j / 4u][j % 4u];
  let t = 2u * (ky * KW + kx);
  (*acc)[t] += ba * xv;
  (*acc)[t + 1u] += bb * xv;
}

fn outputRow(acc: ptr<function, array<vec4<f32>, 32>>, win: ptr<function, array<vec4<f32>, 32>>, dv: vec4<f32>, i: u32) {
  position(acc, win, dv.x, i, 0u);
  position(acc, win, dv.y, i, 1u);
  position(acc, win, dv.z, i, 2u);
  position(acc, win, dv.w, i, 3u);
}

fn finishRow(acc: ptr<function, array<vec4<f32>, 32>>, ky: u32, pb: u32) {
  finish(acc, ky * KW, pb);
  if (KW > 1u) { finish(acc, ky * KW + 1u, pb); }
  if (KW > 2u) { finish(acc, ky * KW + 2u, pb); }
  if (KW > 3u) { finish(acc, ky * KW + 3u, pb); }
}

fn finish(acc: ptr<function, array<vec4<f32>, 32>>, t: u32, pb: u32) {
  part[pb + 2u * t] = (*acc)[2u * t];
  part[pb + 2u * t + 1u] = (*acc)[2u * t + 1u];
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let ntap = KH * KW;
  let nr = (RPS - 1u) * SH + KH;      // input rows per step
  let nv = (3u * SW + KW + 3u) / 4u;  // window vec4 per input row
  let o0 = wid.x * 8u;
  let c0 = wid.y * 8u;
  // Lanes past the channel counts load a valid channel's data; their sums land in part's
  // padding, which conv2d-dw-finish.wgsl never reads.
  let od = min(o0 + lane, params.o - 1u);
  let c = min(c0 + lane, params.c - 1u);
  let n_begin = wid.z * params.nper;
  let n_end = min(n_begin + params.nper, params.n);

  var acc: array<vec4<f32>, 32>;
  var win: array<vec4<f32>, 32>;   // NR_MAX * NV_MAX
  let plane4 = params.hp * params.wp4;
  for (var n = n_begin; n < n_end; n++) {
    // dy rows RPS*q .. of channel od; xp rows from RPS*q*SH.
    var dyo = ((n * params.o + od) * params.ohp) * params.cpr;
    var xo = (n * params.c + c) * plane4;
    for (var q = 0u; q < params.ohp / RPS; q++) {
      for (var ch = 0u; ch < params.cpr; ch++) {
        for (var j = 0u; j < nr; j++) {
          for (var v = 0u; v < nv; v++) {
            win[j * NV_MAX + v] = xp[xo + j * params.wp4 + ch * SW + v];
          }
        }
        outputRow(&acc, &win, dyp[dyo + ch], 0u);
        if (RPS == 2u) { outputRow(&acc, &win, dyp[dyo + params.cpr + ch], 1u); }
      }
      dyo += RPS * params.cpr;
      xo += RPS * SH * params.wp4;
    }
  }

  // part[split][ob][cpad][tap][8] in vec4 pairs; lanes past C fill the padding channels.
  let pb = ((wid.z * nwg.x + wid.x) * params.cpad + c0 + lane) * ntap * 2u;
  finishRow(&acc, 0u, pb);
  if (KH > 1u) { finishRow(&acc, 1u, pb); }
  if (KH > 2u) { finishRow(&acc, 2u, pb); }
  if (KH > 3u) { finishRow(&acc, 3u, pb); }
}
