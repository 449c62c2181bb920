// One torch.optim.Adadelta step (PyTorch 1.13) over one parameter tensor, in float32, in
// the order torch applies its ops:
//   g = g                                   (+ weight_decay * p when weight_decay != 0)
//   sq = rho * sq + ((1 - rho) * g) * g
//   std = sqrt(sq + eps)
//   delta = sqrt(acc + eps) / std * g       (acc from the previous step)
//   acc = rho * acc + ((1 - rho) * delta) * delta
//   p = p + (-lr) * delta
// Entry points `main4` (PER vec4s per invocation, params.n vec4s) and `main` (one element
// per invocation, elements params.start .. params.n - 1: a tail) share update(), as in
// adam.wgsl, whose header says why; they come from step-entries.inc.wgsl, through the hooks
// step_one and step_vec4 below.
override WG: u32 = 256;
override PER: u32 = 4;

struct Params {
  n: u32, // main: end element; main4: vec4s
  start: u32, // main: first element
  lr: f32,
  rho: f32,
  one_minus_rho: f32,
  eps: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

struct State {
  p: vec4<f32>,
  sq: vec4<f32>,
  acc: vec4<f32>,
}

fn update(pv: vec4<f32>, g: vec4<f32>, sq_old: vec4<f32>, acc: vec4<f32>) -> State {
  var gv = g;
  if (params.weight_decay != 0.0) { gv = gv + params.weight_decay * pv; }
  let sq = params.rho * sq_old + (params.one_minus_rho * gv) * gv;
  let stdv = sqrt(sq + params.eps);
  let delta = sqrt(acc + params.eps) / stdv * gv;
  return State(pv + (-params.lr) * delta, sq, params.rho * acc + (params.one_minus_rho * delta) * delta);
}

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> square_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc_delta: array<f32>;

fn step_one(i: u32) {
  let r = update(vec4(p[i]), vec4(g[i]), vec4(square_avg[i]), vec4(acc_delta[i]));
  square_avg[i] = r.sq.x;
  acc_delta[i] = r.acc.x;
  p[i] = r.p.x;
}

@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> square_avg4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> acc_delta4: array<vec4<f32>>;

fn step_vec4(i: u32) {
  let r = update(p4[i], g4[i], square_avg4[i], acc_delta4[i]);
  square_avg4[i] = r.sq;
  acc_delta4[i] = r.acc;
  p4[i] = r.p;
}

//!include "step-entries.inc.wgsl"
