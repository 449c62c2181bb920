// Inverted dropout with a counter-based mask: element i is kept when hash(seed, i) / 2^32
// >= p, and kept values are scaled by 1 / (1 - p). The mask depends only on (seed, i), so
// backward recomputes it instead of storing it, and the same seed gives the same mask on
// every device. The hash is PCG's output permutation applied twice (see pcg_hash below).
override WG: u32 = 256;

struct Params {
  n: u32,
  seed: u32,
  threshold: u32, // floor(p * 2^32): drop when hash < threshold
  scale: f32,     // 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let h = pcg_hash(pcg_hash(i) ^ params.seed);
  // Forward and backward are the same map: y = x * mask * scale (x is dy in backward).
  y[i] = select(x[i] * params.scale, 0.0, h < params.threshold);
}
