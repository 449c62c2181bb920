// One GRU time step of one layer, both directions in one dispatch: the variant for CPU
// adapters (lavapipe) with 8-lane subgroups; gru-forward.wgsl is the same computation for any
// adapter (see its header for the math).
//
// Grid: x over blocks of 8 hidden units, y = direction d, z = batch tile of 8 rows.
// Workgroup = one 8-lane subgroup. Lane l owns unit j = 8x + l for the 8 rows of the tile
// (all three gates: w packs them in one vec4). Per 4 k, lane l loads the vec4
// h_prev[n0 + l, k..k+3] and four vec4s w[d, k..k+3, j]; broadcasts give every lane all 8
// rows' h, so 5 loads feed 128 multiply-adds.
enable subgroups;

struct Params {
  T: u32,
  N: u32,
  H: u32,
  dirs: u32,
  s: u32,        // step index: time s forward, T-1-s backward
  stride_g: u32, // elements between the directions' blocks of gx
  stride_h: u32, // elements between the directions' blocks of hp
  hq: u32,       // Hp / 4 with Hp = H rounded up to a multiple of 4
}

@group(0) @binding(0) var<uniform> params: Params;
// [dirs][stride_g]: block d is [T, N, 3H] = x W_ih^T + b_ih of direction d.
@group(0) @binding(1) var<storage, read> gx: array<f32>;
// [dirs, Hp(k), H(j)] vec4s (r,z,n,0) of W_hh[gate*H + j, k] (rows k >= H are 0), then
// [dirs, H(j)] the b_hh gates (recurrent/pack.wgsl MODE 0).
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
// [dirs, N, Hp]: h_prev of this step (the previous step's hout, or h0), read 4 k at a time.
@group(0) @binding(3) var<storage, read> hin: array<vec4<f32>>;
// [dirs, N, Hp]: this step's h, the next step's hin (the two buffers swap every step).
@group(0) @binding(4) var<storage, read_write> hout: array<f32>;
// [dirs][stride_h]: block d is [T, N, H], hp[d, t] = the h_prev of time t, saved for
// backward (dW_hh = dgates^T h_prev is one matmul over it, and the z h_prev term).
@group(0) @binding(5) var<storage, read_write> hp: array<f32>;
// [T, N, dirs*H]: direction d writes columns [d*H, (d+1)*H).
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
// [dirs, T, N, 4H]: r, z, n and a = W_hn h_prev + b_hn saved for backward, time order.
@group(0) @binding(7) var<storage, read_write> act: array<f32>;

fn sigmoid(v: f32) -> f32 {
  // Split by sign so exp never overflows (and NaN stays NaN through either branch).
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

fn tanh_(v: f32) -> f32 {
  // (1 - e^-2|v|) / (1 + e^-2|v|) never overflows; the builtin may give NaN for large |v|
  // on some drivers.
  let e = exp(-2.0 * abs(v));
  let r = (1.0 - e) / (1.0 + e);
  return select(-r, r, v >= 0.0);
}

// acc[b] += (the value lane b loaded) * wv, for b < 8: every lane loads one row's value and
// subgroupBroadcast hands it to all lanes, so each value is loaded once per subgroup (lavapipe
// runs storage loads lane by lane; a broadcast is one register shuffle).
fn fma8(acc: ptr<function, array<vec4<f32>, 8>>, v: f32, wv: vec4<f32>) {
  (*acc)[0] = fma(vec4(subgroupBroadcast(v, 0u)), wv, (*acc)[0]);
  (*acc)[1] = fma(vec4(subgroupBroadcast(v, 1u)), wv, (*acc)[1]);
  (*acc)[2] = fma(vec4(subgroupBroadcast(v, 2u)), wv, (*acc)[2]);
  (*acc)[3] = fma(vec4(subgroupBroadcast(v, 3u)), wv, (*acc)[3]);
  (*acc)[4] = fma(vec4(subgroupBroadcast(v, 4u)), wv, (*acc)[4]);
  (*acc)[5] = fma(vec4(subgroupBroadcast(v, 5u)), wv, (*acc)[5]);
  (*acc)[6] = fma(vec4(subgroupBroadcast(v, 6u)), wv, (*acc)[6]);
  (*acc)[7] = fma(vec4(subgroupBroadcast(v, 7u)), wv, (*acc)[7]);
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let H = params.H;
  let N = params.N;
  let T = params.T;
  let hq = params.hq;
  let Hp = 4u * hq;
  // No early return before the loop: subgroupBroadcast needs all 8 lanes. Units past H and
  // rows past N load clamped indices and are never written.
  let ju = wid.x * 8u + lane;
  let j = min(ju, H - 1u);
  let d = wid.y;
  let n0 = wid.z * 8u;
  let s = params.s;
  let t = select(s, T - 1u - s, d == 1u);
  let hrow = (d * N + min(n0 + lane, N - 1u)) * hq;
  let wbase = d * Hp * H + j;

  var acc: array<vec4<f32>, 8>;
  for (var k4 = 0u; k4 < hq; k4++) {
    let k = 4u * k4;
    let hv = hin[hrow + k4];
    fma8(&acc, hv.x, w[wbase + k * H]);
    fma8(&acc, hv.y, w[wbase + (k + 1u) * H]);
    fma8(&acc, hv.z, w[wbase + (k + 2u) * H]);
    fma8(&acc, hv.w, w[wbase + (k + 3u) * H]);
  }

  if (ju >= H) { return; }
  let bias = w[params.dirs * Hp * H + d * H + j];
  let G = 3u * H;
  let A = 4u * H;
  for (var b = 0u; b < 8u; b++) {
    let n = n0 + b;
    if (n >= N) { break; }
    let gi = d * params.stride_g + (t * N + n) * G + j;
    let hh = acc[b] + bias; // W_h h_prev + b_h of the r, z, n rows
    let r = sigmoid(gx[gi] + hh.x);
    let z = sigmoid(gx[gi + H] + hh.y);
    let nn = tanh_(gx[gi + 2u * H] + r * hh.z);
    let hprev = hp[d * params.stride_h + (t * N + n) * H + j];
    let h = (1.0 - z) * nn + z * hprev;
    let ai = ((d * T + t) * N + n) * A + j;
    act[ai] = r;
    act[ai + H] = z;
    act[ai + 2u * H] = nn;
    act[ai + 3u * H] = hh.z;
    y[(t * N + n) * params.dirs * H + d * H + j] = h;
    hout[(d * N + n) * Hp + j] = h;
    // Saved as the h_prev of the direction's next time (t+1 forward, t-1 reverse).
    if (d == 0u && t + 1u < T) { hp[d * params.stride_h + ((t + 1u) * N + n) * H + j] = h; }
    if (d == 1u && t > 0u) { hp[d * params.stride_h + ((t - 1u) * N + n) * H + j] = h; }
  }
}
