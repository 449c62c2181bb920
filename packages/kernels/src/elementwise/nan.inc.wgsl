// NaN tests on the bits, and the ops built on them that must keep a NaN as PyTorch does.
// WGSL lets a compiler assume no NaNs: `v != v` may fold to false and NVIDIA's compiler turns
// a compare and select into max(v, 0), so every test here reads the bits (sign cleared,
// magnitude above infinity's 0x7f800000).

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_nan2(v: vec2<f32>) -> vec2<bool> {
  return (bitcast<vec2<u32>>(v) & vec2(0x7fffffffu)) > vec2(0x7f800000u);
}

fn is_nan4(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4(0x7fffffffu)) > vec4(0x7f800000u);
}

// max that returns a NaN operand (a's first), like torch.maximum; WGSL's max() need not.
fn max_nan(a: f32, b: f32) -> f32 {
  return select(select(max(a, b), b, is_nan(b)), a, is_nan(a));
}

// relu per component: v above 0, else 0, and a NaN stays NaN (PyTorch's relu). The one
// definition behind unary.wgsl's relu and batch norm's fused relu, so the two agree bit for bit.
fn relu4(v: vec4<f32>) -> vec4<f32> {
  let z = vec4(0.0);
  return select(select(z, v, v > z), v, is_nan4(v));
}
