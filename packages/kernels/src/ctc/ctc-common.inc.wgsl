// Shared by ctc-alpha-beta.wgsl and ctc-grad.wgsl (textual include). They read the includer's
// `params` (neg_inf, blank, s_max) and its `targets` binding [N, S].

// log(exp(a) + exp(b)) without overflow.
fn lse(a: f32, b: f32) -> f32 {
  let m = max(a, b);
  // Both -inf: exp(a - m) would be exp(NaN). A NaN operand falls through and stays NaN.
  if (m == params.neg_inf) { return params.neg_inf; }
  return m + log(exp(a - m) + exp(b - m));
}

// The label at extended position s of sample n: the blank at even s, target label s / 2 at odd
// s. A negative target becomes a huge u32, which the callers treat as out of range (>= C).
fn ext_label(n: u32, s: u32) -> u32 {
  if ((s & 1u) == 0u) { return params.blank; }
  return u32(targets[n * params.s_max + (s >> 1u)]);
}
