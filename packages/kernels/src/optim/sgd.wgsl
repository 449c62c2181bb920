// One torch.optim.SGD step (PyTorch 1.13, dampening and nesterov included) over one
// parameter tensor, in float32, in the order torch applies its in-place ops:
//   d = g                                   (+ weight_decay * p when weight_decay != 0)
//   momentum: buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//             d = d + momentum * buf when NESTEROV, else d = buf
//   p = p + (-lr) * d
// One invocation per element; the 1-D index is folded into a 2-D grid by Runtime.grid():
// i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 256;
// 1 when momentum != 0: torch keeps no buffer at all for momentum 0 (buf is then a placeholder).
override MOMENTUM: u32 = 0;
override NESTEROV: u32 = 0;

struct Params {
  n: u32,
  // 1 on the step that creates the momentum buffer (torch clones d into it).
  first: u32,
  lr: f32,
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let pv = p[i];
  var d = g[i];
  // torch skips the add entirely for weight_decay 0, so 0 * inf never turns into NaN here.
  if (params.weight_decay != 0.0) { d = d + params.weight_decay * pv; }
  if (MOMENTUM == 1u) {
    var b = d;
    if (params.first == 0u) { b = params.momentum * buf[i] + params.one_minus_dampening * d; }
    buf[i] = b;
    if (NESTEROV == 1u) { d = d + params.momentum * b; } else { d = b; }
  }
  p[i] = pv + (-params.lr) * d;
}
