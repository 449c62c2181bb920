// torch.nn.utils.clip_grad_norm_ (norm_type 2) over a list of gradient tensors without a
// readback, in three steps recorded in one command stream:
//   partial4 (once per tensor): each workgroup reduces a grid-stride slice of the tensor's
//            vec4s (its first 4 * params.n elements) to one accumulator, stored at slot
//            `params.slot + workgroup_id` of `partials`; `partial` does the same one element
//            at a time over elements params.start .. params.n - 1 (the 1-3 left over when
//            the size is not a multiple of 4), into a slot of their own; `partial_table`
//            does both for every tensor of a run of neighbouring views in one dispatch,
//            each workgroup the walk and slot it would have had in them;
//   finish   (one workgroup):   merges all slots into the total norm and the clip factor,
//            result = [norm, factor];
//   scale4   (once per tensor, or per run of neighbours over the whole range): g *= factor,
//            read from result[1] on the GPU, PER vec4s per invocation; `scale` for the
//            left-over elements.
// On lavapipe every storage access with a varying index runs lane by lane and a vec4 costs
// about what a scalar does, hence the vec4 forms (see elementwise/unary.wgsl).
// Each entry point declares its own bindings (the same numbers mean different buffers in
// different entry points; layout 'auto' only sees the ones an entry point uses).
//
// The accumulator is LAPACK nrm2's scaled sum of squares, so that gradients up to the
// float32 maximum give a finite norm (a plain float32 sum of squares overflows once the
// norm passes ~1.8e19, where torch, accumulating in double on the CPU, still returns a
// finite float) and tiny gradients do not underflow to a zero norm:
//   finite values:      sum x^2 = s^2 * q, with s = max |x| seen and q >= 1 (q = 0 when s = 0)
//   non-finite values:  bad = sum x^2 over them (+inf for an inf, NaN for a NaN), so that the
//                       norm comes out inf or NaN exactly as torch's would.
// norm = s * sqrt(q) + bad.
override WG: u32 = 256;
override PER: u32 = 4; // scale4: vec4s per invocation

struct Params {
  // partial, scale: end element; partial4, scale4: vec4s; finish: number of slots.
  n: u32,
  // partial, partial4: first slot of this tensor; partial_table: first slot of this dispatch.
  slot: u32,
  max_norm: f32,
  // partial, scale: first element; partial_table: first table entry.
  start: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

struct Acc {
  s: f32,
  q: f32,
  bad: f32,
}

fn is_finite(x: f32) -> bool {
  // On the bits: compilers may assume finite floats and fold isinf/isnan-style comparisons.
  return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

//!include "../elementwise/nan.inc.wgsl"

fn add_value(a: Acc, x: f32) -> Acc {
  var r = a;
  if (!is_finite(x)) {
    r.bad = r.bad + x * x;
    return r;
  }
  let ax = abs(x);
  if (ax > r.s) {
    // New maximum: rescale the sum so far from s^2 to ax^2 units (0 when s was 0).
    let t = r.s / ax;
    r.q = 1.0 + r.q * t * t;
    r.s = ax;
  } else if (ax > 0.0) {
    let t = ax / r.s;
    r.q = r.q + t * t;
  }
  return r;
}

fn merge(a: Acc, b: Acc) -> Acc {
  // Express the smaller-scale sum in the larger scale's units; s is finite and >= 0.
  var hi = a;
  var lo = b;
  if (b.s > a.s) { hi = b; lo = a; }
  var q = hi.q;
  if (lo.s > 0.0) {
    let t = lo.s / hi.s;
    q = q + lo.q * t * t;
  }
  return Acc(hi.s, q, a.bad + b.bad);
}

var<workgroup> sh_s: array<f32, WG>;
var<workgroup> sh_q: array<f32, WG>;
var<workgroup> sh_b: array<f32, WG>;

// Tree reduction of the workgroup's WG accumulators into slot 0. The barrier after the
// store and after every halving makes each level's writes visible to the next level's reads.
fn reduce_workgroup(lid: u32, mine: Acc) -> Acc {
  sh_s[lid] = mine.s;
  sh_q[lid] = mine.q;
  sh_b[lid] = mine.bad;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let m = merge(Acc(sh_s[lid], sh_q[lid], sh_b[lid]), Acc(sh_s[lid + stride], sh_q[lid + stride], sh_b[lid + stride]));
      sh_s[lid] = m.s;
      sh_q[lid] = m.q;
      sh_b[lid] = m.bad;
    }
    workgroupBarrier();
  }
  return Acc(sh_s[0], sh_q[0], sh_b[0]);
}

@group(0) @binding(1) var<storage, read> grad_in: array<f32>;
// 3 floats per slot: s, q, bad.
@group(0) @binding(2) var<storage, read_write> partials_out: array<f32>;

fn store_partial(slot: u32, lid: u32, a: Acc) {
  let r = reduce_workgroup(lid, a);
  if (lid == 0u) {
    let o = slot * 3u;
    partials_out[o] = r.s;
    partials_out[o + 1u] = r.q;
    partials_out[o + 2u] = r.bad;
  }
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  // Workgroup w covers elements start + w*WG + lid, then strides by the whole grid.
  var a = Acc(0.0, 0.0, 0.0);
  for (var i = params.start + wid.x * WG + lid.x; i < params.n; i += nwg.x * WG) {
    a = add_value(a, grad_in[i]);
  }
  store_partial(params.slot + wid.x, lid.x, a);
}

@group(0) @binding(1) var<storage, read> grad_in4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  // Workgroup w covers vec4s w*WG + lid, then strides by the whole grid; the components in
  // order, so each invocation adds its elements in increasing index order.
  var a = Acc(0.0, 0.0, 0.0);
  for (var i = wid.x * WG + lid.x; i < params.n; i += nwg.x * WG) {
    let x = grad_in4[i];
    a = add_value(add_value(add_value(add_value(a, x.x), x.y), x.z), x.w);
  }
  store_partial(params.slot + wid.x, lid.x, a);
}

// One vec4 of `table` per workgroup: x, y, z, w = first, end, stride, kind. kind 0: vec4s
// x, x + stride, ... below y (one tensor's slot j of B: x = its first vec4 + j * WG, y its
// end, stride B * WG, so the walk of partial4 over that tensor); kind 1: elements likewise
// (a tensor's 1-3 left-over elements, stride WG, the walk of partial). Indices count from
// the start of grad_in4's binding, which spans a run of neighbouring tensors (packed-runs.ts).
@group(0) @binding(3) var<storage, read> table: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn partial_table(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // params.start: this dispatch's first table entry; slots params.slot + wid.x.
  let t = table[params.start + wid.x];
  var a = Acc(0.0, 0.0, 0.0);
  if (t.w == 0u) {
    for (var i = t.x + lid.x; i < t.y; i += t.z) {
      let x = grad_in4[i];
      a = add_value(add_value(add_value(add_value(a, x.x), x.y), x.z), x.w);
    }
  } else {
    for (var e = t.x + lid.x; e < t.y; e += t.z) {
      a = add_value(a, grad_in4[e / 4u][e % 4u]);
    }
  }
  store_partial(params.slot + wid.x, lid.x, a);
}

@group(0) @binding(1) var<storage, read> partials_in: array<f32>;
// [norm, factor]
@group(0) @binding(2) var<storage, read_write> result_out: array<f32>;

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_id) lid: vec3<u32>) {
  var a = Acc(0.0, 0.0, 0.0);
  for (var k = lid.x; k < params.n; k += WG) {
    a = merge(a, Acc(partials_in[k * 3u], partials_in[k * 3u + 1u], partials_in[k * 3u + 2u]));
  }
  let r = reduce_workgroup(lid.x, a);
  if (lid.x == 0u) {
    let norm = r.s * sqrt(r.q) + r.bad;
    // torch 1.13: clip_coef = max_norm / (norm + 1e-6), which Tensor.__rtruediv__ evaluates
    // as reciprocal(norm + 1e-6) * max_norm; then clamp(max=1), which keeps a NaN (WGSL's
    // min need not). A factor of exactly 1 leaves the gradients untouched.
    let coef = (1.0 / (norm + 1e-6)) * params.max_norm;
    var f = min(coef, 1.0);
    if (is_nan(coef)) { f = coef; }
    result_out[0] = norm;
    result_out[1] = f;
  }
}

@group(0) @binding(1) var<storage, read_write> grad_io: array<f32>;
@group(0) @binding(2) var<storage, read> result_in: array<f32>;

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // i = start + gid.x + gid.y * nwg.x * WG: Runtime.grid folds large counts into 2-D.
  let i = params.start + gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let f = result_in[1];
  // Below max_norm the factor is exactly 1: skip the write (x * 1 == x anyway).
  if (f == 1.0) { return; }
  grad_io[i] = grad_io[i] * f;
}

@group(0) @binding(1) var<storage, read_write> grad_io4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn scale4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // Invocation k scales vec4s k*PER .. k*PER + PER - 1.
  let f = result_in[1];
  if (f == 1.0) { return; }
  let base = (gid.x + gid.y * nwg.x * WG) * PER;
  for (var k = 0u; k < PER; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    grad_io4[i] = grad_io4[i] * f;
  }
}
