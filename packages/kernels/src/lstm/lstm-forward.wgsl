// One LSTM time step of one layer, both directions in one dispatch (PyTorch semantics,
// gates i, f, g, o); the variant for any adapter (lstm-forward-sg.wgsl is the same step for
// CPU adapters with 8-lane subgroups):
//   pre = (x_t W_ih^T + b_ih)  [precomputed for all t by one matmul: gx]
//       + h_prev W_hh^T + b_hh
//   i = sigmoid(pre_i)  f = sigmoid(pre_f)  g = tanh(pre_g)  o = sigmoid(pre_o)
//   c = f * c_prev + i * g        h = o * tanh(c)
// Step s runs time t = s for direction 0 and t = T-1-s for direction 1 (the reverse one).
//
// Grid: x over hidden units j (WG per workgroup), y = direction d, z = batch tile of NB rows.
// One invocation computes hidden unit j of NB batch rows, all gates at once: in the k loop,
// four vec4 loads of packed W_hh (all gates of unit j at k..k+3; neighbouring lanes read
// neighbouring vec4s) and one vec4 of h_prev per row (the same for every lane) feed
// 16 * NB multiply-adds.
override WG: u32 = 64;
// Batch rows per invocation, <= NB_MAX: the NB vec4 sums live in registers.
override NB: u32 = 4;
const NB_MAX: u32 = 8u;

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
// [dirs][stride_g]: block d is [T, N, 4H] = x W_ih^T + b_ih of direction d.
@group(0) @binding(1) var<storage, read> gx: array<f32>;
// [dirs, Hp(k), H(j)] vec4s (i,f,g,o) of W_hh[gate*H + j, k] (rows k >= H are 0), then
// [dirs, H(j)] the b_hh gates (recurrent/pack.wgsl MODE 0).
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
// [dirs, N, Hp]: h_prev of this step (the previous step's hout, or h0), read 4 k at a time.
@group(0) @binding(3) var<storage, read> hin: array<vec4<f32>>;
// [dirs, N, Hp]: this step's h, the next step's hin (the two buffers swap every step).
@group(0) @binding(4) var<storage, read_write> hout: array<f32>;
// [dirs][stride_h]: block d is [T, N, H], hp[d, t] = the h_prev of time t, saved for
// backward (dW_hh = dgates^T h_prev is one matmul over it).
@group(0) @binding(5) var<storage, read_write> hp: array<f32>;
// [dirs, T+1, N, H] in step order: cs[d, 0] = c0, cs[d, s+1] = c after step s.
@group(0) @binding(6) var<storage, read_write> cs: array<f32>;
// [T, N, dirs*H]: direction d writes columns [d*H, (d+1)*H).
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
// [dirs, T, N, 4H]: the activations i, f, g, o saved for backward, time order.
@group(0) @binding(8) var<storage, read_write> act: array<f32>;

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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let H = params.H;
  let N = params.N;
  let T = params.T;
  let hq = params.hq;
  let Hp = 4u * hq;
  let j = gid.x;
  let d = wid.y;
  let n0 = wid.z * NB;
  if (j >= H) { return; }
  let s = params.s;
  let t = select(s, T - 1u - s, d == 1u);
  let wbase = d * Hp * H + j;

  var acc: array<vec4<f32>, NB_MAX>;
  for (var k4 = 0u; k4 < hq; k4++) {
    let k = 4u * k4;
    let w0 = w[wbase + k * H];
    let w1 = w[wbase + (k + 1u) * H];
    let w2 = w[wbase + (k + 2u) * H];
    let w3 = w[wbase + (k + 3u) * H];
    for (var b = 0u; b < NB; b++) {
      // Rows past N (last tile) read row N-1 and are never written.
      let hv = hin[(d * N + min(n0 + b, N - 1u)) * hq + k4];
      acc[b] = fma(vec4(hv.x), w0, fma(vec4(hv.y), w1, fma(vec4(hv.z), w2, fma(vec4(hv.w), w3, acc[b]))));
    }
  }

  let bias = w[params.dirs * Hp * H + d * H + j];
  let G = 4u * H;
  let A = 4u * H;
  for (var b = 0u; b < NB; b++) {
    let n = n0 + b;
    if (n >= N) { break; }
    let gi = d * params.stride_g + (t * N + n) * G + j;
    let pre = acc[b] + bias + vec4<f32>(gx[gi], gx[gi + H], gx[gi + 2u * H], gx[gi + 3u * H]);
    let ig = sigmoid(pre.x);
    let fg = sigmoid(pre.y);
    let gg = tanh_(pre.z);
    let og = sigmoid(pre.w);
    let cprev = cs[((d * (T + 1u) + s) * N + n) * H + j];
    let c = fg * cprev + ig * gg;
    let h = og * tanh_(c);
    cs[((d * (T + 1u) + s + 1u) * N + n) * H + j] = c;
    let ai = ((d * T + t) * N + n) * A + j;
    act[ai] = ig;
    act[ai + H] = fg;
    act[ai + 2u * H] = gg;
    act[ai + 3u * H] = og;
    y[(t * N + n) * params.dirs * H + d * H + j] = h;
    hout[(d * N + n) * Hp + j] = h;
    // Saved as the h_prev of the direction's next time (t+1 forward, t-1 reverse).
    if (d == 0u && t + 1u < T) { hp[d * params.stride_h + ((t + 1u) * N + n) * H + j] = h; }
    if (d == 1u && t > 0u) { hp[d * params.stride_h + ((t - 1u) * N + n) * H + j] = h; }
  }
}
