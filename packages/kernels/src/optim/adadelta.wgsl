// One torch.optim.Adadelta step (PyTorch 1.13) over one parameter tensor, in float32, in
// the order torch applies its ops:
//   g = g                                   (+ weight_decay * p when weight_decay != 0)
//   sq = rho * sq + ((1 - rho) * g) * g
//   std = sqrt(sq + eps)
//   delta = sqrt(acc + eps) / std * g       (acc from the previous step)
//   acc = rho * acc + ((1 - rho) * delta) * delta
//   p = p + (-lr) * delta
// i = gid.x + gid.y * nwg.x * WG (Runtime.grid folds large counts into 2-D).
override WG: u32 = 256;

struct Params {
  n: u32,
  lr: f32,
  rho: f32,
  one_minus_rho: f32,
  eps: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> square_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc_delta: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let pv = p[i];
  var gv = g[i];
  if (params.weight_decay != 0.0) { gv = gv + params.weight_decay * pv; }
  let sq = params.rho * square_avg[i] + (params.one_minus_rho * gv) * gv;
  square_avg[i] = sq;
  let stdv = sqrt(sq + params.eps);
  let acc = acc_delta[i];
  let delta = sqrt(acc + params.eps) / stdv * gv;
  acc_delta[i] = params.rho * acc + (params.one_minus_rho * delta) * delta;
  p[i] = pv + (-params.lr) * delta;
}
