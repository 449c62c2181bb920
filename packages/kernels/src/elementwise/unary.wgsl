// Elementwise unary ops, forward and backward, chosen at compile time by the OP override:
//   0 relu     y = max(x, 0)         dx = dy * (y > 0)
//   1 tanh     y = tanh(x)           dx = dy * (1 - y^2)
//   2 sigmoid  y = 1 / (1 + e^-x)    dx = dy * y * (1 - y)
//   3 scale    y = alpha * x         dx = alpha * dy
// Backward reads the forward *output* y (saved), which is enough for all four.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
//
// forward4 / backward4: the same ops on vec4s, PER vec4s per invocation, for n % 4 == 0
// (params.n is then the number of vec4s; their bindings alias bindings 1-3 as vec4 arrays).
// On lavapipe every storage load with a varying index runs lane by lane, so one vec4 load
// instead of four scalar ones, four of them per invocation, measured 3-4x faster on a
// [8, 64, 32, 100] map. Same formulas per component, so the same bits.
override WG: u32 = 256;
override OP: u32 = 0;
override PER: u32 = 4;

struct Params {
  n: u32, // elements (forward/backward) or vec4s (forward4/backward4)
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

//!include "../elementwise/nan.inc.wgsl"

// tanh1 / tanh4: tanh from one exp, (1 - e) / (1 + e) with e = exp(-2|v|), given v's sign
// bit (so -0.0, and NaN stays NaN). lavapipe's own tanh took 3.4-3.9 ms on [8, 64, 32, 100]
// against 2.9-3.1 for this (vec4, median of 15, two rounds). Near 0 the absolute error is
// ~1e-7, as it is for Mesa's lowering of tanh (a difference of exponentials); the tests'
// tolerance is 1e-6.
fn tanh1(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  let t = (1.0 - e) / (1.0 + e);
  return bitcast<f32>(bitcast<u32>(t) | (bitcast<u32>(v) & 0x80000000u));
}

fn tanh4(v: vec4<f32>) -> vec4<f32> {
  let e = exp(-2.0 * abs(v));
  let t = (1.0 - e) / (1.0 + e);
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(t) | (bitcast<vec4<u32>>(v) & vec4(0x80000000u)));
}

fn sigmoid(v: f32) -> f32 {
  // Split by sign so exp never overflows: for v < 0, e^v / (1 + e^v).
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let v = x[i];
  var r: f32;
  switch OP {
    case 0u: { r = relu4(vec4(v)).x; }
    case 1u: { r = tanh1(v); }
    case 2u: { r = sigmoid(v); }
    default: { r = params.alpha * v; }
  }
  y[i] = r;
}

@group(0) @binding(3) var<storage, read> saved: array<f32>;

// Binding 1 holds dy, binding 2 receives dx, binding 3 holds the forward output y.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let g = x[i];
  let t = saved[i]; // read for every OP so that all four share one binding layout
  var r: f32;
  switch OP {
    case 0u: { r = select(0.0, g, t > 0.0); }
    case 1u: { r = g * (1.0 - t * t); }
    case 2u: { r = g * t * (1.0 - t); }
    default: { r = params.alpha * g; }
  }
  y[i] = r;
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> saved4: array<vec4<f32>>;

fn apply4(v: vec4<f32>) -> vec4<f32> {
  let z = vec4(0.0);
  switch OP {
    case 0u: { return relu4(v); }
    case 1u: { return tanh4(v); }
    case 2u: {
      // e = exp(-|v|) is exp(-v) for v >= 0 and exp(v) below: sigmoid()'s two branches.
      let e = exp(-abs(v));
      return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= z);
    }
    default: { return params.alpha * v; }
  }
}

// Invocation k handles vec4s k*PER .. k*PER+PER-1.
@compute @workgroup_size(WG)
fn forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (gid.x + gid.y * nwg.x * WG) * PER;
  for (var k = 0u; k < PER; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    y4[i] = apply4(x4[i]);
  }
}

@compute @workgroup_size(WG)
fn backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (gid.x + gid.y * nwg.x * WG) * PER;
  for (var k = 0u; k < PER; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    let g = x4[i];
    let t = saved4[i];
    var r: vec4<f32>;
    switch OP {
      case 0u: { r = select(vec4(0.0), g, t > vec4(0.0)); }
      case 1u: { r = g * (1.0 - t * t); }
      case 2u: { r = g * t * (1.0 - t); }
      default: { r = params.alpha * g; }
    }
    y4[i] = r;
  }
}
