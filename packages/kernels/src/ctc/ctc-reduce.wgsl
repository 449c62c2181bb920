// The CTC loss from the per-sample negative log-likelihoods nll[N], in one workgroup:
//   REDUCTION 0 (none): loss[n] = nll[n]                      (shape [N])
//   REDUCTION 1 (sum):  loss    = sum_n nll[n]                (shape [])
//   REDUCTION 2 (mean): loss    = mean_n nll[n] / max(S_n, 1) (PyTorch's mean)
// ZERO_INF = 1 turns +inf (no feasible alignment) into 0 first; NaN stays NaN.
const WG: u32 = 64u;
const F32_MAX: f32 = 3.4e38; // nll above it can only be +inf (no feasible alignment)
override REDUCTION: u32 = 2u;
override ZERO_INF: u32 = 0u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> nll: array<f32>;
@group(0) @binding(2) var<storage, read> lens: array<i32>;   // [2, N]
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

var<workgroup> red: array<f32, WG>;

fn value(i: u32) -> f32 {
  var v = nll[i];
  if (ZERO_INF == 1u && v > F32_MAX) { v = 0.0; }
  if (REDUCTION == 2u) { v = v / f32(max(lens[params.n + i], 1)); }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  if (REDUCTION == 0u) {
    for (var i = lid.x; i < params.n; i += WG) { loss[i] = value(i); }
    return;
  }
  var s = 0.0;
  for (var i = lid.x; i < params.n; i += WG) { s += value(i); }
  red[lid.x] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid.x < w) { red[lid.x] = red[lid.x] + red[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    var total = red[0];
    if (REDUCTION == 2u) { total = total / f32(params.n); }
    loss[0] = total;
  }
}
