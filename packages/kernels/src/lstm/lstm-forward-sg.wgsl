// One LSTM time step of one layer, both directions in one dispatch: the variant for adapters
// with 8-lane subgroups (lavapipe, GPUs); lstm-forward.wgsl is the same computation for any
// adapter (see its header for the math).
//
// Grid: x over blocks of 8 hidden units, y = direction d, z = batch tile of 8 rows.
// Workgroup = one 8-lane subgroup. Lane l owns unit j = 8x + l for the 8 rows of the tile
// (all four gates: w packs them in one vec4). Per 4 k, lane l loads the vec4
// h_prev[n0 + l, k..k+3] and four vec4s w[d, k..k+3, j]; broadcasts give every lane all 8
// rows' h, so 5 loads feed 128 multiply-adds.
enable subgroups;

// Batch rows per tile: one per lane of the 8-lane subgroup (step-sg.inc.wgsl).
const NB: u32 = 8u;
const NB_MAX: u32 = NB;

// Put together from ../recurrent/ (scripts/embed-wgsl.mjs resolves the includes):
// step-forward.inc.wgsl (Params, index helpers, the hooks main calls), the cell in
// lstm-forward-cell.inc.wgsl, and the recurrent product and main in step-sg.inc.wgsl.
//!include "../recurrent/step-forward.inc.wgsl"

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

//!include "../recurrent/lstm-forward-cell.inc.wgsl"
//!include "../recurrent/step-sg.inc.wgsl"
