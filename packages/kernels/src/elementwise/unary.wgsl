// Elementwise unary ops, forward and backward, chosen at compile time by the OP override:
//   0 relu     y = max(x, 0)         dx = dy * (y > 0)
//   1 tanh     y = tanh(x)           dx = dy * (1 - y^2)
//   2 sigmoid  y = 1 / (1 + e^-x)    dx = dy * y * (1 - y)
//   3 scale    y = alpha * x         dx = alpha * dy
// Backward reads the forward *output* y (saved), which is enough for all four.
// The 1-D index is folded into a 2-D grid by Runtime.grid(): i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 256;
override OP: u32 = 0;

struct Params {
  n: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
    case 0u: { r = select(0.0, v, v > 0.0); }
    case 1u: { r = tanh(v); }
    case 2u: { r = sigmoid(v); }
    default: { r = params.alpha * v; }
  }
  // relu(NaN) stays NaN, like PyTorch. Tested on the bits: compilers may fold `v != v`.
  if (OP == 0u && (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { r = v; }
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
