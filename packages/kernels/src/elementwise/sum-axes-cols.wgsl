// Column sums of x viewed as [rows, cols], in chunks of rows: y[s * cols + c] = sum of
// x[r, c] over the rows r of chunk s (rows s * chunk .. min(rows, (s + 1) * chunk) - 1).
// Workgroup (t, s) gives lane l column c = t * WG + l, so neighbouring lanes read neighbouring
// addresses (sum-axes.wgsl's workgroup per column reads a column's rows with a stride of
// `cols`), and chunk s of the rows; no barrier. The split form of sum_axes on GPUs
// (elementwise.ts) runs it on a [A, B] input for partial sums [S, B], which sum-axes.wgsl
// then adds up.
override WG: u32 = 64;

struct Params {
  rows: u32,
  cols: u32,
  chunk: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * WG + lid.x;
  if (c >= params.cols) { return; }
  let r0 = wid.y * params.chunk;
  let r1 = min(params.rows, r0 + params.chunk);
  // Four rows per trip into four sums: four independent loads in flight per lane, where a
  // single running sum waits for each load in turn (a GPU hides that latency only with
  // loads to spare).
  var s4 = vec4<f32>(0.0);
  var r = r0;
  for (; r + 3u < r1; r += 4u) {
    let i = r * params.cols + c;
    s4 += vec4<f32>(x[i], x[i + params.cols], x[i + 2u * params.cols], x[i + 3u * params.cols]);
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (; r < r1; r++) {
    s += x[r * params.cols + c];
  }
  y[wid.y * params.cols + c] = s;
}
