// One GRU backward-through-time step of one layer, both directions in one dispatch: the
// variant for adapters with 8-lane subgroups (lavapipe, GPUs); gru-backward.wgsl is the same
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

// Batch rows per tile: one per lane of the 8-lane subgroup (step-sg.inc.wgsl).
const NB: u32 = 8u;
const NB_MAX: u32 = NB;

// Put together from ../recurrent/ (scripts/embed-wgsl.mjs resolves the includes):
// step-backward.inc.wgsl (Params, index helpers, the hooks main calls), the cell in
// gru-backward-cell.inc.wgsl, and the recurrent product and main in step-sg.inc.wgsl.
//!include "../recurrent/step-backward.inc.wgsl"

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

//!include "../recurrent/gru-backward-cell.inc.wgsl"
//!include "../recurrent/step-sg.inc.wgsl"
