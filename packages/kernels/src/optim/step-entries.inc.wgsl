// The two entry points shared by the optimizer steps (sgd.wgsl, adam.wgsl, adadelta.wgsl;
// textual include). i = gid.x + gid.y * nwg.x * WG folds a 2-D grid (Runtime.grid).
//   main4  PER vec4s per invocation, vec4s base .. base + PER - 1 (params.n counts vec4s)
//   main   one element per invocation, elements params.start .. params.n - 1: the 1-3
//          elements a size leaves over after its whole vec4s
// The includer declares override WG and PER, a Params with n and start, and the hooks
//   fn step_one(i: u32)   element i: loaded as vec4s, its update(), component x stored
//   fn step_vec4(i: u32)  vec4 i through the same update(), so both give the same bits.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = params.start + gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  step_one(i);
}

@compute @workgroup_size(WG)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (gid.x + gid.y * nwg.x * WG) * PER;
  for (var k = 0u; k < PER; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    step_vec4(i);
  }
}
