// One torch.optim.SGD step (PyTorch 1.13, dampening and nesterov included) over one
// parameter tensor, in float32, in the order torch applies its in-place ops:
//   d = g                                   (+ weight_decay * p when weight_decay != 0)
//   momentum: buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//             d = d + momentum * buf when NESTEROV, else d = buf
//   p = p + (-lr) * d
// Entry points `main4` (PER vec4s per invocation, params.n vec4s) and `main` (one element
// per invocation, elements params.start .. params.n - 1: a tail) share update(), as in
// adam.wgsl, whose header says why; they come from step-entries.inc.wgsl, through the hooks
// step_one and step_vec4 below.
override WG: u32 = 256;
// 1 when momentum != 0: torch keeps no buffer at all for momentum 0 (buf is then a placeholder).
override MOMENTUM: u32 = 0;
override NESTEROV: u32 = 0;
override PER: u32 = 4;

struct Params {
  n: u32, // main: end element; main4: vec4s
  start: u32, // main: first element
  // 1 on the step that creates the momentum buffer (torch clones d into it).
  first: u32,
  lr: f32,
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

struct State {
  p: vec4<f32>,
  buf: vec4<f32>, // MOMENTUM only
}

fn update(pv: vec4<f32>, g: vec4<f32>, old_buf: vec4<f32>) -> State {
  var d = g;
  // torch skips the add entirely for weight_decay 0, so 0 * inf never turns into NaN here.
  if (params.weight_decay != 0.0) { d = d + params.weight_decay * pv; }
  var b = d;
  if (MOMENTUM == 1u) {
    if (params.first == 0u) { b = params.momentum * old_buf + params.one_minus_dampening * d; }
    if (NESTEROV == 1u) { d = d + params.momentum * b; } else { d = b; }
  }
  return State(pv + (-params.lr) * d, b);
}

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

fn step_one(i: u32) {
  var old = 0.0;
  if (MOMENTUM == 1u && params.first == 0u) { old = buf[i]; }
  let r = update(vec4(p[i]), vec4(g[i]), vec4(old));
  if (MOMENTUM == 1u) { buf[i] = r.buf.x; }
  p[i] = r.p.x;
}

@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> buf4: array<vec4<f32>>;

fn step_vec4(i: u32) {
  var old = vec4(0.0);
  if (MOMENTUM == 1u && params.first == 0u) { old = buf4[i]; }
  let r = update(p4[i], g4[i], old);
  if (MOMENTUM == 1u) { buf4[i] = r.buf; }
  p4[i] = r.p;
}

//!include "step-entries.inc.wgsl"
