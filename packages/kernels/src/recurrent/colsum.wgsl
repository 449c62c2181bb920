// Bias gradients: out[c] = sum_r x[x_off + r*cols + c] over the rows of a [rows, cols] block
// (the gate gradients of one direction, [T*N, G]). One lane per column walks the rows, so
// neighbouring lanes read neighbouring addresses and no barrier is needed (a tree reduction
// per column, as sum_axes does, costs more on CPU adapters than the sequential sum).
// Columns are folded into 2-D by Runtime.grid(): c = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 64;

struct Params {
  rows: u32,
  cols: u32,
  x_off: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= params.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    s += x[params.x_off + r * params.cols + c];
  }
  out[c] = s;
}
