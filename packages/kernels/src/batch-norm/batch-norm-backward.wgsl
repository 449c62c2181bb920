// Batch normalization backward (the fragment's header says how) for upstream dy as it comes.
//!include "batch-norm-backward.inc.wgsl"

fn load_dy(o: u32) -> f32 {
  return dy[o];
}

fn load_dy4(o: u32) -> vec4<f32> {
  return dy4[o];
}
