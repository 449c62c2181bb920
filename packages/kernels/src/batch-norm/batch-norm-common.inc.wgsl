// Shared by batch-norm-train.wgsl and batch-norm-backward.inc.wgsl (textual include): the strided
// cursor over one channel of x viewed as [N, C, S], the workgroup sum, and the horizontal sum
// of main4's per-component partials. They read the includer's `params` (n, c, s, step_n,
// step_s, in vec4s for main4) and its override WG (a multiple of 16).

var<workgroup> red: array<vec2<f32>, WG>;
var<workgroup> red2: array<vec2<f32>, WG / 16u>;

// Position (nn, ss) of the channel's k-th element, k = nn * S + ss. Stepping k by WG is
// done without a division per element: add (WG / S, WG % S) and carry once.
struct Cursor {
  nn: u32,
  ss: u32,
}

fn cursor_start(lid: u32) -> Cursor {
  return Cursor(lid / params.s, lid % params.s);
}

fn cursor_next(k: Cursor) -> Cursor {
  var r = Cursor(k.nn + params.step_n, k.ss + params.step_s);
  if (r.ss >= params.s) {
    r.ss -= params.s;
    r.nn += 1u;
  }
  return r;
}

fn offset(k: Cursor, ch: u32) -> u32 {
  return (k.nn * params.c + ch) * params.s + k.ss;
}

// Sum of v over the workgroup, returned to every invocation; call from uniform control
// flow. Two levels with one barrier each instead of a log2(WG)-step tree: the first WG / 16
// invocations each add 16 consecutive partials, then every invocation adds those WG / 16
// sums itself (a broadcast without a further barrier). Few barriers keep the shader cheap
// to compile and run on CPU drivers, where each barrier splits the shader. The last
// barrier keeps red2 intact until everyone has read it, since a next call overwrites it.
fn wg_sum(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  if (lid < WG / 16u) {
    var t = vec2<f32>(0.0, 0.0);
    for (var j = 0u; j < 16u; j++) { t += red[lid * 16u + j]; }
    red2[lid] = t;
  }
  workgroupBarrier();
  var r = vec2<f32>(0.0, 0.0);
  for (var j = 0u; j < WG / 16u; j++) { r += red2[j]; }
  workgroupBarrier();
  return r;
}

// main4's four partial sums, added as (x + y) + (z + w) before the workgroup sum.
fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}
