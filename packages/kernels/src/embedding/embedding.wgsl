// Embedding lookup y[k, d] = weight[indices[k], d] and its backward, for weight [V, D] and
// n indices of any shape (flattened: k in [0, n)).
//
// forward   (indices, y, weight): one invocation per output element i = k * D + d.
//           An index outside [0, V) cannot be rejected on the GPU; its output row is NaN
//           (params.nan, passed in from the host: a NaN constant is a WGSL compile error),
//           never a clamped row, so the mistake shows up in the loss.
// forward4  (D % 4 == 0; params.dim is then D / 4, bindings 2-3 aliased as vec4 arrays): one
//           invocation t per PER vec4s of the output, i0 = t * PER .. i0 + PER - 1, all in
//           row k = i0 / D4 as PER divides D4: a quarter of the per-lane loads of `forward`
//           and 1 / (4 PER) of its index reads and divisions: 0.20 ms of GPU time against
//           0.43 for the bench's V40 D256 [8, 10] on lavapipe with PER 1; PER 8 (software
//           adapters) 0.08-0.11 against 0.10-0.12. Same values.
// backward  (indices, dweight, dy): one invocation per weight element i = v * D + d, which
//           loops over all n indices in order and sums dy[k, d] where indices[k] == v.
//           Every sum is formed by one invocation in a fixed order, so repeated indices
//           accumulate deterministically with no float atomics (O(V * D * n) reads; fine
//           for V <= 1000, n <= 10^4). Out-of-range indices match no row and are dropped.
//           Row padding_idx (HAS_PAD = 1) gets no gradient: 0, or unchanged when
//           ACCUMULATE = 1 (the result is added to dweight instead of stored).
// backward4 (D % 4 == 0 and n <= 16384; params.dim is then D / 4, bindings 2-3 aliased as
//           vec4 arrays, and binding 1 is a 64 KiB UNIFORM copy of the indices): one
//           invocation per (row v, vec4 j of D), i = v * D4 + j, summing dy[k, 4j..4j+3] in
//           ascending k: the same sums in the same order, so the same bits. On lavapipe the
//           index reads in the k loop are the cost: a storage read runs lane by lane with a
//           bounds check per lane, a uniform read of four indices is one branch-free gather
//           (V40 D256 [8, 10], bench alternating builds: 0.33-0.49 ms of GPU time and
//           0.31-0.60 ms wall against 0.46-0.66 and 0.68-0.90 reading storage).
// All use a 1-D index folded into 2-D by Runtime.grid: i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 64;
override PER: u32 = 1; // forward4: vec4s per invocation, a divisor of D / 4
override HAS_PAD: u32 = 0;
override ACCUMULATE: u32 = 0;

struct Params {
  n: u32,
  vocab: u32,
  dim: u32,
  padding_idx: i32,
  nan: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>; // forward: weight; backward: dy

// Where output element (forward) or vec4 (forward4) i comes from: src[at] of row indices[k],
// k = i / dim (params.dim counts elements or vec4s alike); ok is false for an index outside
// [0, V), whose output is NaN.
struct Lookup {
  ok: bool,
  at: u32,
}

fn lookup(i: u32) -> Lookup {
  let k = i / params.dim;
  let v = indices[k];
  return Lookup(v >= 0 && u32(v) < params.vocab, u32(v) * params.dim + (i - k * params.dim));
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n * params.dim) { return; }
  let l = lookup(i);
  if (!l.ok) {
    dst[i] = params.nan;
    return;
  }
  dst[i] = src[l.at];
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.vocab * params.dim) { return; }
  let v = i / params.dim;
  let d = i - v * params.dim;
  var s = 0.0;
  if (HAS_PAD == 0u || i32(v) != params.padding_idx) {
    for (var k = 0u; k < params.n; k++) {
      if (indices[k] == i32(v)) { s += src[k * params.dim + d]; }
    }
  }
  if (ACCUMULATE == 1u) { dst[i] += s; } else { dst[i] = s; }
}

@group(0) @binding(2) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> src4: array<vec4<f32>>;

@group(0) @binding(1) var<uniform> indices4: array<vec4<i32>, 4096>;

@compute @workgroup_size(WG)
fn backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.vocab * params.dim) { return; }
  let v = i / params.dim;
  let j = i - v * params.dim;
  var s = vec4(0.0);
  if (HAS_PAD == 0u || i32(v) != params.padding_idx) {
    // Indices 4*k4 .. 4*k4+3 come in one vec4; the last partial vec4 is checked per index.
    let n4 = (params.n + 3u) / 4u;
    for (var k4 = 0u; k4 < n4; k4++) {
      let iv = indices4[k4];
      for (var q = 0u; q < 4u; q++) {
        let k = 4u * k4 + q;
        if (k < params.n && iv[q] == i32(v)) { s += src4[k * params.dim + j]; }
      }
    }
  }
  if (ACCUMULATE == 1u) { dst4[i] += s; } else { dst4[i] = s; }
}

@compute @workgroup_size(WG)
fn forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // PER divides D4, so vec4s i0 .. i0 + PER - 1 lie in one output row: one index read and
  // one division for all of them.
  let i0 = (gid.x + gid.y * nwg.x * WG) * PER;
  if (i0 >= params.n * params.dim) { return; }
  let l = lookup(i0);
  for (var j = 0u; j < PER; j++) {
    if (l.ok) {
      dst4[i0 + j] = src4[l.at + j];
    } else {
      dst4[i0 + j] = vec4(params.nan);
    }
  }
}
