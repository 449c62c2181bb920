// One LSTM backward-through-time step of one layer, both directions in one dispatch (the
// variant for any adapter; lstm-backward-sg.wgsl is the one for CPU adapters).
// Backward step s handles time t = T-1-s in direction 0 and t = s in direction 1 (the
// reverse of the forward order), so "the previously handled time" tp is t+1 (d = 0) or
// t-1 (d = 1), whose gate gradients the previous dispatch left in gin.
//
//   dh   = dy[t] + carry_h + sum_r dg[tp, n, r] W_hh[r, j]     (r over the 4H gate rows)
//   dc   = carry_c + dh * o * (1 - tanh(c)^2)
//   dpre = (dc * g * i(1-i),  dc * c_prev * f(1-f),  dc * i * (1-g^2),  dh * tanh(c) * o(1-o))
//   carry_c <- dc * f,  carry_h <- 0
// carry_h starts as dh_n and carry_c as dc_n (or zeros): carry_h feeds the first handled step
// only. The tail dispatch (s = T) runs only the recurrent sum, for the time before the first:
// carry_h <- carry_h + sum_r dg[tp] W_hh = dh0, and carry_c (= dc0) is passed on.
//
// Grid: x over blocks of WG quads of hidden units, y = direction d, z = batch tile of NB rows.
// A lane owns the quad q (units 4q..4q+3) for NB batch rows: per 4 gate rows r, four vec4
// loads of W_hh[r..r+3, 4q..4q+3] and one vec4 of gin per row (the same for every lane) feed
// 16 * NB multiply-adds.
override WG: u32 = 64;
// Batch rows per lane, <= NB_MAX: the NB vec4 sums live in registers.
override NB: u32 = 4;
const NB_MAX: u32 = 8u;

struct Params {
  T: u32,
  N: u32,
  H: u32,
  dirs: u32,
  s: u32,        // backward step, 0..T-1; T for the tail (dh0)
  stride_g: u32, // elements between the directions' blocks of dg (and dgh)
  stride_h: u32, // elements between the directions' blocks of hp
  gq: u32,       // Gp / 4 with Gp = G rounded up to a multiple of 4
  hq: u32,       // Hp / 4 with Hp = H rounded up to a multiple of 4
  rq: u32,       // vec4s per row of gin/gout: (Gp + Hp (+ Hp for LSTM)) / 4
}

@group(0) @binding(0) var<uniform> params: Params;
// [T, N, dirs*H]: the gradient of this layer's output y.
@group(0) @binding(1) var<storage, read> dy: array<f32>;
// [dirs, Gp, Hq] W_hh rows in quads of 4 units, rows r >= G and units past H zero
// (recurrent/pack.wgsl MODE 1).
@group(0) @binding(2) var<storage, read> wq: array<vec4<f32>>;
// [dirs, T, N, 4H]: i, f, g, o from the forward pass.
@group(0) @binding(3) var<storage, read> act: array<f32>;
// [dirs, T+1, N, H] cell states in forward step order, slot 0 = c0.
@group(0) @binding(4) var<storage, read> cs: array<f32>;
// [dirs][stride_g]: block d is [T, N, 4H], d(loss)/d(pre-activation), saved for the matmuls.
@group(0) @binding(5) var<storage, read_write> dg: array<f32>;
// [dirs, N, Gp + 2Hp] rows (gate gradients | carry_h | carry_c) of the previous step, read 4 at
// a time; gout receives this step's, and the two buffers swap every step.
@group(0) @binding(6) var<storage, read> gin: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> gout: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let H = params.H;
  let N = params.N;
  let T = params.T;
  let Hq = (H + 3u) / 4u;
  let q = gid.x;
  let d = wid.y;
  let n0 = wid.z * NB;
  if (q >= Hq) { return; }
  let s = params.s;

  // Recurrent gradient from the previously handled time (none at the first step).
  var acc: array<vec4<f32>, NB_MAX>;
  if (s > 0u) {
    let wbase = d * 4u * params.gq * Hq + q;
    for (var r4 = 0u; r4 < params.gq; r4++) {
      let r = 4u * r4;
      let w0 = wq[wbase + r * Hq];
      let w1 = wq[wbase + (r + 1u) * Hq];
      let w2 = wq[wbase + (r + 2u) * Hq];
      let w3 = wq[wbase + (r + 3u) * Hq];
      for (var b = 0u; b < NB; b++) {
        // Rows past N (last tile) read row N-1 and are never written.
        let gv = gin[(d * N + min(n0 + b, N - 1u)) * params.rq + r4];
        acc[b] = fma(vec4(gv.x), w0, fma(vec4(gv.y), w1, fma(vec4(gv.z), w2, fma(vec4(gv.w), w3, acc[b]))));
      }
    }
  }

  let G = 4u * H;
  let A = 4u * H;
  let Gp = 4u * params.gq;
  let Hp = 4u * params.hq;
  for (var c = 0u; c < 4u; c++) {
    let j = q * 4u + c;
    if (j >= H) { break; }
    for (var b = 0u; b < NB; b++) {
      let n = n0 + b;
      if (n >= N) { break; }
      let rec = acc[b][c];
      let rowq = (d * N + n) * params.rq; // this row of gin, in vec4s
      let row = 4u * rowq;                // the same row of gout, in floats
      let carry_h = gin[rowq + params.gq + j / 4u][j % 4u];
      let carry_c = gin[rowq + params.gq + params.hq + j / 4u][j % 4u];
      if (s == T) {
        gout[row + Gp + j] = carry_h + rec;
        gout[row + Gp + Hp + j] = carry_c;
        continue;
      }
      let t = select(T - 1u - s, s, d == 1u);
      // Forward step index of time t: the slots of c_prev and c in cs.
      let sf = select(t, T - 1u - t, d == 1u);
      let cv = cs[((d * (T + 1u) + sf + 1u) * N + n) * H + j];
      let cprev = cs[((d * (T + 1u) + sf) * N + n) * H + j];
      let ai = ((d * T + t) * N + n) * G + j;
      let ig = act[ai];
      let fg = act[ai + H];
      let gg = act[ai + 2u * H];
      let og = act[ai + 3u * H];
      let dh = dy[(t * N + n) * params.dirs * H + d * H + j] + carry_h + rec;
      let e = exp(-2.0 * abs(cv));
      let tc = select(-1.0, 1.0, cv >= 0.0) * (1.0 - e) / (1.0 + e); // tanh(c), overflow-free
      let dc = carry_c + dh * og * (1.0 - tc * tc);
      let g0 = dc * gg * ig * (1.0 - ig);
      let g1 = dc * cprev * fg * (1.0 - fg);
      let g2 = dc * ig * (1.0 - gg * gg);
      let g3 = dh * tc * og * (1.0 - og);
      let gi = d * params.stride_g + (t * N + n) * G + j;
      dg[gi] = g0;
      dg[gi + H] = g1;
      dg[gi + 2u * H] = g2;
      dg[gi + 3u * H] = g3;
      gout[row + j] = g0;
      gout[row + H + j] = g1;
      gout[row + 2u * H + j] = g2;
      gout[row + 3u * H + j] = g3;
      gout[row + Gp + j] = 0.0;
      gout[row + Gp + Hp + j] = dc * fg;
    }
  }
}
