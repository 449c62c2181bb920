// Weight gradient of conv2d for layers with few input channels (the image layer, C = 1 or
// 3), where conv2d-dw-fast.wgsl's lanes-over-input-channels would leave most lanes idle:
//
//   dw[o, c, ky, kx] = sum_{n, oy, ox} dy[n, o, oy, ox] * xp[n, c, oy*SH + ky, ox*SW + kx]
//
// One workgroup (8 invocations = one SIMD vector on CPU adapters): 16 output channels,
// o0 + lane and o0 + 8 + lane (wid.x), one input channel c (wid.y), the batch items of split
// wid.z. Lanes run over output channels, so each lane loads its own two channels' dy (RPS
// vec4 each per step of RPS output rows x 4 columns). The input window of channel c is the
// same for every lane: the 8 lanes load its vec4s round-robin (window vec4 k = row*nv + v is
// loaded by lane k % 8 in round k / 8) and subgroupBroadcast hands each value to all lanes.
// dyp / xp are padded as for conv2d-dw-fast.wgsl (no bounds checks), and the sums go to
//   part[split][o / 8][cpad][tap][o % 8]
// which conv2d-dw-finish.wgsl adds into dw. As there, every index into the accumulator and
// window arrays is a constant: taps and positions are calls with constant arguments.
enable subgroups;

override KH: u32 = 3u;   // <= 4
override KW: u32 = 3u;   // <= 4
override SH: u32 = 1u;
override SW: u32 = 1u;
override RPS: u32 = 2u;  // output rows per step: 1 or 2

const NV_MAX: u32 = 4u;     // window vec4 per input row: ceil((3*SW + KW) / 4) <= 4
const ROUNDS_MAX: u32 = 4u; // window vec4 per step / 8: (RPS-1)*SH + KH rows x NV_MAX <= 32

struct Params {
  n: u32,
  c: u32,
  o: u32,
  ohp: u32,     // rows of dyp (a multiple of RPS)
  cpr: u32,     // 4-column chunks per dy row
  hp: u32,      // rows of xp
  wp4: u32,     // row length of xp / 4
  nper: u32,    // batch items per split
  cpad: u32,    // channel stride of part
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dyp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

// subgroupBroadcast wants a constant lane; every call passes one (after inlining), so the
// switch folds away.
fn bcast(v: f32, l: u32) -> f32 {
  switch l {
    case 0u: { return subgroupBroadcast(v, 0u); }
    case 1u: { return subgroupBroadcast(v, 1u); }
    case 2u: { return subgroupBroadcast(v, 2u); }
    case 3u: { return subgroupBroadcast(v, 3u); }
    case 4u: { return subgroupBroadcast(v, 4u); }
    case 5u: { return subgroupBroadcast(v, 5u); }
    case 6u: { return subgroupBroadcast(v, 6u); }
    default: { return subgroupBroadcast(v, 7u); }
  }
}

// Input value (row r of the step, element e of the row's window), broadcast from the lane
// that loaded it.
fn xval(win: ptr<function, array<vec4<f32>, ROUNDS_MAX>>, r: u32, e: u32) -> f32 {
  let nv = (3u * SW + KW + 3u) / 4u;
  let k = r * nv + e / 4u;
  return bcast((*win)[k / 8u][e % 4u], k % 8u);
}

// Tap (ky, kx) at output (row i, column m) of the step: input row i*SH + ky, element m*SW + kx.
fn tap(acc: ptr<function, array<vec4<f32>, 8>>, win: ptr<function, array<vec4<f32>, ROUNDS_MAX>>, da: f32, db: f32, i: u32, m: u32, ky: u32, kx: u32) {
  let xv = xval(win, i * SH + ky, m * SW + kx);
  let t = ky * KW + kx;
  // acc[t / 4][t % 4]: channel o0 + lane; acc[4 + t / 4][t % 4]: channel o0 + 8 + lane.
  (*acc)[t / 4u][t % 4u] += da * xv;
  (*acc)[4u + t / 4u][t % 4u] += db * xv;
}

fn tapRow(acc: ptr<function, array<vec4<f32>, 8>>, win: ptr<function, array<vec4<f32>, ROUNDS_MAX>>, da: f32, db: f32, i: u32, m: u32, ky: u32) {
  tap(acc, win, da, db, i, m, ky, 0u);
  if (KW > 1u) { tap(acc, win, da, db, i, m, ky, 1u); }
  if (KW > 2u) { tap(acc, win, da, db, i, m, ky, 2u); }
  if (KW > 3u) { tap(acc, win, da, db, i, m, ky, 3u); }
}

fn position(acc: ptr<function, array<vec4<f32>, 8>>, win: ptr<function, array<vec4<f32>, ROUNDS_MAX>>, da: f32, db: f32, i: u32, m: u32) {
  tapRow(acc, win, da, db, i, m, 0u);
  if (KH > 1u) { tapRow(acc, win, da, db, i, m, 1u); }
  if (KH > 2u) { tapRow(acc, win, da, db, i, m, 2u); }
  if (KH > 3u) { tapRow(acc, win, da, db, i, m, 3u); }
}

fn outputRow(acc: ptr<function, array<vec4<f32>, 8>>, win: ptr<function, array<vec4<f32>, ROUNDS_MAX>>, da: vec4<f32>, db: vec4<f32>, i: u32) {
  position(acc, win, da.x, db.x, i, 0u);
  position(acc, win, da.y, db.y, i, 1u);
  position(acc, win, da.z, db.z, i, 2u);
  position(acc, win, da.w, db.w, i, 3u);
}

fn finish(acc: ptr<function, array<vec4<f32>, 8>>, t: u32, pa: u32, pb: u32) {
  part[pa + 8u * t] = (*acc)[t / 4u][t % 4u];
  part[pb + 8u * t] = (*acc)[4u + t / 4u][t % 4u];
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let ntap = KH * KW;
  let nr = (RPS - 1u) * SH + KH;
  let nv = (3u * SW + KW + 3u) / 4u;
  let nk = nr * nv;                     // window vec4 per step
  let c = wid.y;
  // Lanes past O load a valid channel's dy; their sums land in part's padding.
  let oa = min(wid.x * 16u + lane, params.o - 1u);
  let ob = min(wid.x * 16u + 8u + lane, params.o - 1u);
  let n_begin = wid.z * params.nper;
  let n_end = min(n_begin + params.nper, params.n);
  let plane4 = params.hp * params.wp4;
  let drow = params.cpr;                // dyp vec4 per row

  var acc: array<vec4<f32>, 8>;
  var win: array<vec4<f32>, ROUNDS_MAX>;
  for (var n = n_begin; n < n_end; n++) {
    var dya = ((n * params.o + oa) * params.ohp) * drow;
    var dyb = ((n * params.o + ob) * params.ohp) * drow;
    var xo = (n * params.c + c) * plane4;
    for (var q = 0u; q < params.ohp / RPS; q++) {
      for (var ch = 0u; ch < params.cpr; ch++) {
        // Round-robin window loads: vec4 k = j * nv + v (row j, vec v), k = 8 * round + lane;
        // lanes past nk reload the last one.
        for (var rd = 0u; rd < ROUNDS_MAX; rd++) {
          if (8u * rd < nk) {
            let k = min(8u * rd + lane, nk - 1u);
            let j = k / nv;
            win[rd] = xp[xo + j * params.wp4 + ch * SW + (k - j * nv)];
          }
        }
        outputRow(&acc, &win, dyp[dya + ch], dyp[dyb + ch], 0u);
        if (RPS == 2u) { outputRow(&acc, &win, dyp[dya + drow + ch], dyp[dyb + drow + ch], 1u); }
      }
      dya += RPS * drow;
      dyb += RPS * drow;
      xo += RPS * SH * params.wp4;
    }
  }

  // part[split][o / 8][cpad][tap][o % 8]: channel o0 + lane is block 2*wid.x, o0 + 8 + lane
  // block 2*wid.x + 1, both at position lane.
  let nob = 2u * nwg.x;
  let pa = (((wid.z * nob + 2u * wid.x) * params.cpad + c) * ntap) * 8u + lane;
  let pb = (((wid.z * nob + 2u * wid.x + 1u) * params.cpad + c) * ntap) * 8u + lane;
  for (var t = 0u; t < 16u; t++) {
    if (t < ntap) { finish(&acc, t, pa, pb); }
  }
}
