// One LSTM time step of one layer, both directions in one dispatch (PyTorch semantics,
// gates i, f, g, o); the variant for any adapter (lstm-forward-sg.wgsl is the same step for
// adapters with 8-lane subgroups):
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

// Put together from ../recurrent/ (scripts/embed-wgsl.mjs resolves the includes):
// step-forward.inc.wgsl (Params, index helpers, the hooks main calls), the cell in
// lstm-forward-cell.inc.wgsl, and the recurrent product and main in step-generic.inc.wgsl.
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
//!include "../recurrent/step-generic.inc.wgsl"
