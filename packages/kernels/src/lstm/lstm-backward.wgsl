// One LSTM backward-through-time step of one layer, both directions in one dispatch (the
// variant for any adapter; lstm-backward-sg.wgsl is the one for 8-lane subgroups).
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

// Put together from ../recurrent/ (scripts/embed-wgsl.mjs resolves the includes):
// step-backward.inc.wgsl (Params, index helpers, the hooks main calls), the cell in
// lstm-backward-cell.inc.wgsl, and the recurrent product and main in step-generic.inc.wgsl.
//!include "../recurrent/step-backward.inc.wgsl"

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

//!include "../recurrent/lstm-backward-cell.inc.wgsl"
//!include "../recurrent/step-generic.inc.wgsl"
