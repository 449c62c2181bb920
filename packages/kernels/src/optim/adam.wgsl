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
//
// Two entry points share update(), written on vec4s (every operation is per component, so a
// component's result does not depend on its neighbours):
//   main4  PER vec4s per invocation, vec4s k*PER .. k*PER + PER - 1 of invocation k, over the
//          first 4 * params.n elements (params.n counts vec4s). On lavapipe each storage
//          access with a varying index runs lane by lane, and a vec4 access costs about as
//          much as a scalar one (see elementwise/unary.wgsl), so this is the fast path.
//   main   one element per invocation, elements params.start .. params.n - 1: the tail of a
//          tensor whose size is not a multiple of 4, computed as update(splat(x)).x.
// Same formulas in both, so the same bits. The entry points themselves are
// step-entries.inc.wgsl's (shared with sgd.wgsl and adadelta.wgsl); this file gives their
// hooks step_one and step_vec4.
override WG: u32 = 256;
override AMSGRAD: u32 = 0;
override PER: u32 = 4;

struct Params {
  n: u32, // main: end element; main4: vec4s
  start: u32, // main: first element
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

//!include "../elementwise/nan.inc.wgsl"

struct State {
  p: vec4<f32>,
  m: vec4<f32>,
  v: vec4<f32>,
  vmax: vec4<f32>, // AMSGRAD only
}

fn update(pv: vec4<f32>, g: vec4<f32>, m: vec4<f32>, v: vec4<f32>, vmax: vec4<f32>) -> State {
  var gv = g;
  if (params.weight_decay != 0.0) { gv = gv + params.weight_decay * pv; }
  let mv = params.beta1 * m + params.one_minus_beta1 * gv;
  let vv = params.beta2 * v + (params.one_minus_beta2 * gv) * gv;
  var vd = vv;
  if (AMSGRAD == 1u) {
    // torch.maximum propagates NaN; WGSL's max() need not, so pick NaN explicitly.
    vd = select(select(max(vmax, vv), vv, is_nan4(vv)), vmax, is_nan4(vmax));
  }
  let denom = sqrt(vd) / params.bc2_sqrt + params.eps;
  return State(pv + (-params.step_size) * (mv / denom), mv, vv, vd);
}

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// The running maximum of v; a placeholder when AMSGRAD is 0 (never indexed then).
@group(0) @binding(5) var<storage, read_write> vmax: array<f32>;

fn step_one(i: u32) {
  var old = 0.0;
  if (AMSGRAD == 1u) { old = vmax[i]; }
  let r = update(vec4(p[i]), vec4(g[i]), vec4(m[i]), vec4(v[i]), vec4(old));
  m[i] = r.m.x;
  v[i] = r.v.x;
  if (AMSGRAD == 1u) { vmax[i] = r.vmax.x; }
  p[i] = r.p.x;
}

@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> vmax4: array<vec4<f32>>;

fn step_vec4(i: u32) {
  var old = vec4(0.0);
  if (AMSGRAD == 1u) { old = vmax4[i]; }
  let r = update(p4[i], g4[i], m4[i], v4[i], old);
  m4[i] = r.m;
  v4[i] = r.v;
  if (AMSGRAD == 1u) { vmax4[i] = r.vmax; }
  p4[i] = r.p;
}

//!include "step-entries.inc.wgsl"
