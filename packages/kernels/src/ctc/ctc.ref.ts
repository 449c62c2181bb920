// Float64 CPU references for the CTC ops (plain loops): log_softmax, the alpha-beta loss and
// its gradient with respect to the logits, a brute force over every alignment (to check the
// alpha-beta reference itself on tiny T), greedy decoding and the best labeling by brute force.

export type CtcReduction = 'mean' | 'sum' | 'none';

export interface CtcRefOptions {
  blank?: number;
  reduction?: CtcReduction;
  zeroInfinity?: boolean;
  /** Upstream gradient: a scalar for mean / sum, one per sample (or a scalar) for none. */
  gradOutput?: number | ArrayLike<number>;
}

/** log_softmax over the last axis of x viewed as [rows, C]. */
export function logSoftmaxRef(x: ArrayLike<number>, rows: number, C: number): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, x[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[r * C + c]! - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c]! - lse;
  }
  return y;
}

function lse(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * alpha, beta (both including the emission at their frame) and -log p(target) of one
 * sample, from log-probs of that sample as rows [Tn][C] (logp(t, c)).
 */
export function ctcAlphaBetaRef(
  logp: (t: number, c: number) => number,
  Tn: number,
  target: readonly number[],
  blank: number,
): { alpha: Float64Array[]; beta: Float64Array[]; nll: number } {
  const L = 2 * target.length + 1;
  const lab = (s: number) => (s % 2 === 0 ? blank : target[(s - 1) / 2]!);
  const canSkip = (s: number, s2: number) => lab(s) !== blank && lab(s) !== lab(s2);
  const alpha = Array.from({ length: Tn }, () => new Float64Array(L).fill(-Infinity));
  const beta = Array.from({ length: Tn }, () => new Float64Array(L).fill(-Infinity));
  alpha[0]![0] = logp(0, lab(0));
  if (L > 1) alpha[0]![1] = logp(0, lab(1));
  for (let t = 1; t < Tn; t++) {
    for (let s = 0; s < L; s++) {
      let a = alpha[t - 1]![s]!;
      if (s >= 1) a = lse(a, alpha[t - 1]![s - 1]!);
      if (s >= 2 && canSkip(s, s - 2)) a = lse(a, alpha[t - 1]![s - 2]!);
      alpha[t]![s] = a + logp(t, lab(s));
    }
  }
  beta[Tn - 1]![L - 1] = logp(Tn - 1, lab(L - 1));
  if (L > 1) beta[Tn - 1]![L - 2] = logp(Tn - 1, lab(L - 2));
  for (let t = Tn - 2; t >= 0; t--) {
    for (let s = 0; s < L; s++) {
      let b = beta[t + 1]![s]!;
      if (s + 1 < L) b = lse(b, beta[t + 1]![s + 1]!);
      if (s + 2 < L && canSkip(s, s + 2)) b = lse(b, beta[t + 1]![s + 2]!);
      beta[t]![s] = b + logp(t, lab(s));
    }
  }
  const last = alpha[Tn - 1]!;
  const ll = L > 1 ? lse(last[L - 1]!, last[L - 2]!) : last[0]!;
  return { alpha, beta, nll: -ll };
}

/** The target of sample n from padded targets [N, S]. */
export function targetOf(targets: ArrayLike<number>, S: number, n: number, len: number): number[] {
  return Array.from({ length: len }, (_, k) => targets[n * S + k]!);
}

/**
 * CTC loss of logits [T, N, C] (log_softmax applied here) and its gradient with respect to
 * the logits, PyTorch semantics: mean = mean over the batch of nll_n / max(S_n, 1);
 * zeroInfinity turns an impossible sample's loss and gradient into 0. An impossible sample
 * without zeroInfinity gets loss +inf and gradient 0 (the GPU op's convention).
 */
export function ctcLossRef(
  logits: ArrayLike<number>,
  [T, N, C]: readonly [number, number, number],
  targets: ArrayLike<number>,
  S: number,
  inputLengths: ArrayLike<number>,
  targetLengths: ArrayLike<number>,
  o: CtcRefOptions = {},
): { loss: Float64Array; nll: Float64Array; grad: Float64Array } {
  const blank = o.blank ?? 0;
  const reduction = o.reduction ?? 'mean';
  const lp = logSoftmaxRef(logits, T * N, C);
  const nll = new Float64Array(N);
  const grad = new Float64Array(T * N * C);
  const perSample = new Float64Array(N);
  const g = o.gradOutput ?? 1;
  for (let n = 0; n < N; n++) {
    const Tn = inputLengths[n]!;
    const Sn = targetLengths[n]!;
    const target = targetOf(targets, S, n, Sn);
    const at = (t: number, c: number) => lp[(t * N + n) * C + c]!;
    const { alpha, beta, nll: v } = ctcAlphaBetaRef(at, Tn, target, blank);
    nll[n] = v;
    const infeasible = v === Infinity;
    perSample[n] = infeasible && o.zeroInfinity ? 0 : v;
    const up = typeof g === 'number' ? g : g[n]!;
    const scale = reduction === 'mean' ? up / (N * Math.max(Sn, 1)) : up;
    if (infeasible) continue;
    const L = 2 * Sn + 1;
    for (let t = 0; t < Tn; t++) {
      const lcab = new Float64Array(C).fill(-Infinity);
      for (let s = 0; s < L; s++) {
        const c = s % 2 === 0 ? blank : target[(s - 1) / 2]!;
        lcab[c] = lse(lcab[c]!, alpha[t]![s]! + beta[t]![s]!);
      }
      for (let c = 0; c < C; c++) {
        const l = at(t, c);
        grad[(t * N + n) * C + c] = scale * (Math.exp(l) - Math.exp(lcab[c]! + v - l));
      }
    }
  }
  let loss: Float64Array;
  if (reduction === 'none') loss = perSample;
  else {
    let s = 0;
    for (let n = 0; n < N; n++) s += reduction === 'mean' ? perSample[n]! / Math.max(targetLengths[n]!, 1) : perSample[n]!;
    loss = Float64Array.of(reduction === 'mean' ? s / N : s);
  }
  return { loss, nll, grad };
}

/** Collapses an alignment: merge repeats, then drop blanks. */
export function ctcCollapse(path: ArrayLike<number>, blank: number): number[] {
  const out: number[] = [];
  let prev = -1;
  for (let t = 0; t < path.length; t++) {
    const v = path[t]!;
    if (v !== blank && v !== prev) out.push(v);
    prev = v;
  }
  return out;
}

/** Calls f on every alignment of length T over C classes (C^T of them: tiny T only). */
function forEachAlignment(T: number, C: number, f: (path: Int32Array) => void): void {
  const path = new Int32Array(T);
  const total = C ** T;
  for (let i = 0; i < total; i++) {
    let k = i;
    for (let t = 0; t < T; t++) {
      path[t] = k % C;
      k = Math.floor(k / C);
    }
    f(path);
  }
}

/** -log p(target) by summing the probability of every alignment that collapses to it. */
export function ctcBruteForceNll(logp: (t: number, c: number) => number, T: number, C: number, target: readonly number[], blank: number): number {
  let p = 0;
  const key = target.join(',');
  forEachAlignment(T, C, (path) => {
    if (ctcCollapse(path, blank).join(',') !== key) return;
    let lp = 0;
    for (let t = 0; t < T; t++) lp += logp(t, path[t]!);
    p += Math.exp(lp);
  });
  return -Math.log(p);
}

/** The most probable labeling (summed over its alignments) by brute force, with its log-prob. */
export function ctcBestLabelingRef(logp: (t: number, c: number) => number, T: number, C: number, blank: number): { sequence: number[]; logProb: number } {
  const sums = new Map<string, number>();
  forEachAlignment(T, C, (path) => {
    let lp = 0;
    for (let t = 0; t < T; t++) lp += logp(t, path[t]!);
    const k = ctcCollapse(path, blank).join(',');
    sums.set(k, (sums.get(k) ?? 0) + Math.exp(lp));
  });
  let best = '';
  let bp = -1;
  for (const [k, p] of sums) {
    if (p > bp) {
      bp = p;
      best = k;
    }
  }
  return { sequence: best === '' ? [] : best.split(',').map(Number), logProb: Math.log(bp) };
}

/** Greedy decoding of scores [T, N, C]: per-frame argmax (first maximum), collapsed. */
export function ctcGreedyDecodeRef(x: ArrayLike<number>, [T, N, C]: readonly [number, number, number], inputLengths: ArrayLike<number> | undefined, blank: number): number[][] {
  const out: number[][] = [];
  for (let n = 0; n < N; n++) {
    const Tn = inputLengths ? inputLengths[n]! : T;
    const path: number[] = [];
    for (let t = 0; t < Tn; t++) {
      let arg = 0;
      for (let c = 1; c < C; c++) if (x[(t * N + n) * C + c]! > x[(t * N + n) * C + arg]!) arg = c;
      path.push(arg);
    }
    out.push(ctcCollapse(path, blank));
  }
  return out;
}
