// One GRU backward-through-time step of one layer, both directions in one dispatch: the
// variant for CPU adapters (lavapipe) with 8-lane subgroups; gru-backward.wgsl is the same
// computation for any adapter.
// Backward step s handles time t = T-1-s in direction 0 and t = s in direction 1 (the
// reverse of the forward order), so "the previously handled time" tp is t+1 (d = 0) or
// t-1 (d = 1), whose hidden-side gate gradients the previous dispatch left in gin.
//
//   dh  = dy[t] + carry + sum_r dgh[tp, n, r] W_hh[r, j]      (r over the 3H gate rows)
//   dn  = dh (1 - z)            dz = dh (h_prev - n)
//   dpre_n = dn (1 - n^2)       dpre_z = dz z (1 - z)
//   da  = dpre_n r              dpre_r = dpre_n a r (1 - r)       (a = W_hn h_prev + b_hn)
//   dg  = (dpre_r, dpre_z, dpre_n)   gradient of the input-side pre-activations (W_ih, b_ih, x)
//   dgh = (dpre_r, dpre_z, da)       gradient of the hidden-side ones (W_hh, b_hh, h_prev)
//   carry <- dh z                    the direct path h' = ... + z h_prev
// carry starts as dh_n (or zeros). The tail dispatch (s = T) runs only the recurrent sum, for
// the time before the first: carry <- carry + sum_r dgh[tp] W_hh = dh0.
//
// Grid: x over blocks of 8 quads of hidden units, y = direction d, z = batch tile of 8 rows.
// Workgroup = one 8-lane subgroup. Lane l owns the quad q (units 4q..4q+3) for the 8 rows of
// the tile. Per 4 gate rows r, lane l loads the vec4 gin[n0 + l, r..r+3] and four vec4s
// W_hh[r..r+3, 4q..4q+3]; broadcasts give every lane all 8 rows' values, so 5 loads feed 128
// multiply-adds.
enable subgroups;

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
// [dirs, T, N, 4H]: r, z, n, a from the forward pass.
@group(0) @binding(3) var<storage, read> act: array<f32>;
// [dirs][stride_h]: block d is [T, N, H], the h_prev of each time (forward pass).
@group(0) @binding(4) var<storage, read> hp: array<f32>;
// [dirs][stride_g]: blocks [T, N, 3H] of dg and dgh, saved for the matmuls.
@group(0) @binding(5) var<storage, read_write> dg: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgh: array<f32>;
// [dirs, N, Gp + Hp] rows (hidden-side gate gradients dgh | carry) of the previous step, read
// 4 at a time; gout receives this step's, and the two buffers swap every step.
@group(0) @binding(7) var<storage, read> gin: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> gout: array<f32>;

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
  let Hq = (H + 3u) / 4u;
  // No early return before the loop: subgroupBroadcast needs all 8 lanes. Quads past Hq and
  // rows past N load clamped indices and are never written.
  let qu = wid.x * 8u + lane;
  let q = min(qu, Hq - 1u);
  let d = wid.y;
  let n0 = wid.z * 8u;
  let s = params.s;

  // Recurrent gradient from the previously handled time (none at the first step).
  var acc: array<vec4<f32>, 8>;
  if (s > 0u) {
    let grow = (d * N + min(n0 + lane, N - 1u)) * params.rq;
    let wbase = d * 4u * params.gq * Hq + q;
    for (var r4 = 0u; r4 < params.gq; r4++) {
      let r = 4u * r4;
      let gv = gin[grow + r4];
      fma8(&acc, gv.x, wq[wbase + r * Hq]);
      fma8(&acc, gv.y, wq[wbase + (r + 1u) * Hq]);
      fma8(&acc, gv.z, wq[wbase + (r + 2u) * Hq]);
      fma8(&acc, gv.w, wq[wbase + (r + 3u) * Hq]);
    }
  }

  if (qu >= Hq) { return; }
  let G = 3u * H;
  let A = 4u * H;
  let Gp = 4u * params.gq;
  let Hp = 4u * params.hq;
  for (var c = 0u; c < 4u; c++) {
    let j = q * 4u + c;
    if (j >= H) { break; }
    for (var b = 0u; b < 8u; b++) {
      let n = n0 + b;
      if (n >= N) { break; }
      let rec = acc[b][c];
      let rowq = (d * N + n) * params.rq; // this row of gin, in vec4s
      let row = 4u * rowq;                // the same row of gout, in floats
      let carry = gin[rowq + params.gq + j / 4u][j % 4u];
      if (s == T) {
        gout[row + Gp + j] = carry + rec;
        continue;
      }
      let t = select(T - 1u - s, s, d == 1u);
      let ai = ((d * T + t) * N + n) * A + j;
      let r = act[ai];
      let z = act[ai + H];
      let nn = act[ai + 2u * H];
      let a = act[ai + 3u * H];
      let hprev = hp[d * params.stride_h + (t * N + n) * H + j];
      let dh = dy[(t * N + n) * params.dirs * H + d * H + j] + carry + rec;
      let dpre_n = dh * (1.0 - z) * (1.0 - nn * nn);
      let dpre_z = dh * (hprev - nn) * z * (1.0 - z);
      let dpre_r = dpre_n * a * r * (1.0 - r);
      let da = dpre_n * r;
      let gi = d * params.stride_g + (t * N + n) * G + j;
      dg[gi] = dpre_r;
      dg[gi + H] = dpre_z;
      dg[gi + 2u * H] = dpre_n;
      dgh[gi] = dpre_r;
      dgh[gi + H] = dpre_z;
      dgh[gi + 2u * H] = da;
      gout[row + j] = dpre_r;
      gout[row + H + j] = dpre_z;
      gout[row + 2u * H + j] = da;
      gout[row + Gp + j] = dh * z;
    }
  }
}
