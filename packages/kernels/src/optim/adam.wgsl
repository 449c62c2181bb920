// One torch.optim.Adam step (PyTorch 1.13 single-tensor path, amsgrad included) over one
// parameter tensor, in float32:
//   g = g                                   (+ weight_decay * p when weight_decay != 0: L2, not AdamW)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + ((1 - beta2) * g) * g    (addcmul's order)
//   AMSGRAD: vmax = max(vmax, v) and vmax replaces v below
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p + (-lr / (1 - beta1^t)) * (m / denom)
// The bias corrections depend only on the step count t: the host computes them in float64
// (as torch does in Python) and passes step_size = lr / (1 - beta1^t) and
// bc2_sqrt = sqrt(1 - beta2^t) rounded to f32, as torch's scalar arguments are.
// i = gid.x + gid.y * nwg.x * WG (Runtime.grid folds large counts into 2-D).
override WG: u32 = 256;
override AMSGRAD: u32 = 0;

struct Params {
  n: u32,
  step_size: f32,
  bc2_sqrt: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// The running maximum of v; a placeholder when AMSGRAD is 0 (never indexed then).
@group(0) @binding(5) var<storage, read_write> vmax: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let pv = p[i];
  var gv = g[i];
  if (params.weight_decay != 0.0) { gv = gv + params.weight_decay * pv; }
  let mv = params.beta1 * m[i] + params.one_minus_beta1 * gv;
  let vv = params.beta2 * v[i] + (params.one_minus_beta2 * gv) * gv;
  m[i] = mv;
  v[i] = vv;
  var vd = vv;
  if (AMSGRAD == 1u) {
    // torch.maximum propagates NaN; WGSL's max() need not, so pick NaN explicitly
    // (tested on the bits: compilers may fold `x != x`).
    let old = vmax[i];
    vd = max(old, vv);
    if ((bitcast<u32>(vv) & 0x7fffffffu) > 0x7f800000u) { vd = vv; }
    if ((bitcast<u32>(old) & 0x7fffffffu) > 0x7f800000u) { vd = old; }
    vmax[i] = vd;
  }
  let denom = sqrt(vd) / params.bc2_sqrt + params.eps;
  p[i] = pv + (-params.step_size) * (mv / denom);
}
