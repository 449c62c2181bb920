/**
 * CTC: the loss with its gradient with respect to the logits (alpha-beta recursions on the
 * GPU), and greedy decoding on the GPU. Prefix beam search (CPU) is in ctc-beam-search.ts.
 *
 * Impossible alignments. A sample needs T_n >= S_n + (number of equal adjacent labels)
 * frames. When the targets are host arrays the wrapper checks this before any dispatch and
 * throws an OpInputError naming the sample, unless `zeroInfinity` is set (then the sample's
 * loss and gradient are 0, as in PyTorch). When the targets are an i32 tensor their values
 * cannot be checked without a readback: such a sample gets nll = loss = +Infinity (PyTorch's
 * value; 0 with `zeroInfinity`) and a zero gradient, and `nll` tells which sample it was.
 * Out-of-range labels in a target tensor make that sample's loss NaN.
 */
import { f32, OpInputError, type Kernel, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectNonEmpty, expectRank, isTensor } from '../validate.js';
import logSoftmaxSrc from './ctc-log-softmax.wgsl.js';
import alphaBetaSrc from './ctc-alpha-beta.wgsl.js';
import gradSrc from './ctc-grad.wgsl.js';
import reduceSrc from './ctc-reduce.wgsl.js';
import greedySrc from './ctc-greedy.wgsl.js';

export type CtcReduction = 'mean' | 'sum' | 'none';

/**
 * How the per-(t, n)-row kernels (log_softmax, the gradient) run: null (default) picks by
 * adapter: one invocation per row on a software adapter, where each workgroup's barriers
 * cost ~8 us, one workgroup per row elsewhere. Both give the same bits (tested); tests and
 * measurements set it.
 */
export const ctcTuning: { serialRows: boolean | null } = { serialRows: null };
const REDUCTION_CODE: Record<CtcReduction, number> = { none: 0, sum: 1, mean: 2 };

export interface CtcLossOptions {
  /** Index of the blank class (default 0). */
  blank?: number;
  /** 'mean' (default: PyTorch's, nll_n / max(S_n, 1) averaged over the batch), 'sum', 'none' ([N]). */
  reduction?: CtcReduction;
  /** Impossible alignments give loss 0 and gradient 0 instead of an error / +inf. */
  zeroInfinity?: boolean;
  /**
   * Upstream gradient of the loss (default 1): a scalar, or for reduction 'none' one value
   * per sample. The returned gradient is d(sum(loss * gradOutput)) / d logits.
   */
  gradOutput?: number | ArrayLike<number>;
}

export interface CtcLossForwardResult {
  /** [] for mean / sum, [N] for none. */
  loss: Tensor;
  /** [N]: -log p(target_n | x_n) before reduction and zeroInfinity (+inf when impossible). */
  nll: Tensor;
}

export interface CtcLossResult extends CtcLossForwardResult {
  /** d loss / d logits, [T, N, C]; 0 on frames t >= input_lengths[n]. */
  grad: Tensor;
}

/** Targets: an i32 tensor [N, S] padded, or the same values as a flat host array (S = length / N). */
export type CtcTargets = Tensor | ArrayLike<number>;

const WG = 64;

/** CTC loss of logits [T, N, C] (log_softmax is applied inside) and d loss / d logits. */
export function ctcLoss(
  rt: Runtime,
  logits: Tensor,
  targets: CtcTargets,
  inputLengths: ArrayLike<number>,
  targetLengths: ArrayLike<number>,
  o: CtcLossOptions = {},
): CtcLossResult {
  return run(rt, logits, targets, inputLengths, targetLengths, o, true) as CtcLossResult;
}

/** The loss alone (evaluation): skips the beta recursion and the gradient. */
export function ctcLossForward(
  rt: Runtime,
  logits: Tensor,
  targets: CtcTargets,
  inputLengths: ArrayLike<number>,
  targetLengths: ArrayLike<number>,
  o: Omit<CtcLossOptions, 'gradOutput'> = {},
): CtcLossForwardResult {
  return run(rt, logits, targets, inputLengths, targetLengths, o, false);
}

/** The frames sample n needs at least: one per label plus a blank between equal neighbours. */
export function ctcMinFrames(target: ArrayLike<number>, length = target.length): number {
  let need = length;
  for (let k = 1; k < length; k++) if (target[k] === target[k - 1]) need++;
  return need;
}

function checkLengths(op: string, name: string, v: ArrayLike<number>, n: number, lo: number, hi: number, hiName: string): void {
  if (v.length !== n) throw new OpInputError(op, `${name} of ${n} values (one per sample)`, `${v.length} values`);
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (!Number.isInteger(x) || x < lo || x > hi) {
      throw new OpInputError(op, `${name}[${i}] an integer in [${lo}, ${hi}] (${hiName})`, String(x));
    }
  }
}

function run(
  rt: Runtime,
  logits: Tensor,
  targets: CtcTargets,
  inputLengths: ArrayLike<number>,
  targetLengths: ArrayLike<number>,
  o: CtcLossOptions,
  needGrad: boolean,
): CtcLossForwardResult | CtcLossResult {
  const op = 'ctc_loss';
  // ---- validation: everything before the first dispatch ----
  expectRank(op, 'logits', logits, 3);
  expectDType(op, 'logits', logits, 'f32');
  expectNonEmpty(op, 'logits', logits);
  const [T, N, C] = logits.shape as [number, number, number];
  const blank = o.blank ?? 0;
  const reduction = o.reduction ?? 'mean';
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) throw new OpInputError(op, `blank an integer in [0, ${C}) (C = ${C})`, String(blank));
  if (!(reduction in REDUCTION_CODE)) throw new OpInputError(op, `reduction 'mean', 'sum' or 'none'`, String(reduction));
  const maxGroups = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (N > maxGroups) throw new OpInputError(op, `a batch of at most ${maxGroups} samples`, `N = ${N}`);

  let S: number;
  const hostTargets = !isTensor(targets);
  if (isTensor(targets)) {
    expectRank(op, 'targets', targets, 2);
    expectDType(op, 'targets', targets, 'i32');
    if (targets.shape[0] !== N) throw new OpInputError(op, `targets of shape [${N}, S]`, `[${targets.shape.join(', ')}]`);
    S = targets.shape[1]!;
  } else {
    if (targets.length % N !== 0) throw new OpInputError(op, `host targets of N * S values (N = ${N})`, `${targets.length} values`);
    S = targets.length / N;
  }
  checkLengths(op, 'input_lengths', inputLengths, N, 1, T, 'T');
  checkLengths(op, 'target_lengths', targetLengths, N, 0, S, 'S, the padded target width');
  if (!isTensor(targets)) {
    for (let n = 0; n < N; n++) {
      const Sn = targetLengths[n]!;
      for (let k = 0; k < Sn; k++) {
        const v = targets[n * S + k]!;
        if (!Number.isInteger(v) || v < 0 || v >= C || v === blank) {
          throw new OpInputError(op, `targets[${n}][${k}] a class in [0, ${C}) other than the blank ${blank}`, String(v));
        }
      }
      const need = ctcMinFrames(Array.from({ length: Sn }, (_, k) => targets[n * S + k]!));
      if (inputLengths[n]! < need && !o.zeroInfinity) {
        throw new OpInputError(
          op,
          `input_lengths[${n}] >= ${need} for sample ${n} (target length ${Sn} plus ${need - Sn} repeated adjacent label(s)): no alignment exists; set zeroInfinity to give it loss 0`,
          String(inputLengths[n]),
        );
      }
    }
  }
  const scales = new Float32Array(N);
  if (needGrad) {
    const g = o.gradOutput ?? 1;
    if (typeof g !== 'number') {
      if (reduction !== 'none') throw new OpInputError(op, `a scalar gradOutput for reduction '${reduction}'`, `${g.length} values`);
      if (g.length !== N) throw new OpInputError(op, `gradOutput of ${N} values (one per sample)`, `${g.length} values`);
    }
    for (let n = 0; n < N; n++) {
      const up = typeof g === 'number' ? g : g[n]!;
      scales[n] = reduction === 'mean' ? up / (N * Math.max(targetLengths[n]!, 1)) : up;
    }
  }

  // ---- dispatches ----
  const L = 2 * S + 1;
  const lensHost = new Int32Array(2 * N);
  for (let n = 0; n < N; n++) {
    lensHost[n] = inputLengths[n]!;
    lensHost[N + n] = targetLengths[n]!;
  }
  const lens = rt.upload(lensHost, [2, N], 'i32');
  const tgt = isTensor(targets) ? targets : rt.upload(Int32Array.from(targets), [N, S], 'i32');
  const logp = rt.empty([T, N, C]);
  const serial = ctcTuning.serialRows ?? rt.info.isSoftware;
  // Per (t, n) row: a workgroup, or one invocation (`serial`) with the same bits.
  const rowKernel = (name: string, code: string): { kernel: Kernel; workgroups: [number, number] } =>
    serial ? { kernel: { name: `${name}_serial`, code, entryPoint: 'serial' }, workgroups: rt.grid(T * N, WG) } : { kernel: { name, code }, workgroups: rt.grid(T * N, 1) };
  rt.dispatch({ ...rowKernel('ctc_log_softmax', logSoftmaxSrc), params: [T * N, C], bindings: [logits, logp] });
  const alpha = rt.empty([N, T, L]);
  const beta = needGrad ? rt.empty([N, T, L]) : rt.placeholder;
  const nll = rt.empty([N]);
  rt.dispatch({
    kernel: { name: 'ctc_alpha_beta', code: alphaBetaSrc },
    params: [T, N, C, S, L, blank, f32(-Infinity), f32(NaN)],
    bindings: [logp, tgt, lens, alpha, beta, nll],
    // y = 0: alpha (and nll), y = 1: beta, side by side.
    workgroups: [N, needGrad ? 2 : 1],
  });
  const loss = rt.empty(reduction === 'none' ? [N] : []);
  rt.dispatch({
    kernel: { name: 'ctc_reduce', code: reduceSrc, constants: { REDUCTION: REDUCTION_CODE[reduction], ZERO_INF: o.zeroInfinity ? 1 : 0 } },
    params: [N],
    bindings: [nll, lens, loss],
    workgroups: 1,
  });
  let grad: Tensor | undefined;
  if (needGrad) {
    const scale = rt.upload(scales, [N]);
    grad = rt.empty([T, N, C]);
    rt.dispatch({
      ...rowKernel('ctc_grad', gradSrc),
      params: [T * N, N, C, S, L, T, blank, f32(-Infinity), f32(NaN)],
      bindings: [logp, tgt, lens, alpha, beta, nll, scale, grad],
    });
    scale.dispose();
    beta.dispose();
  }
  // Recorded dispatches keep their buffers; the pool hands them out again only to later
  // commands of the same stream.
  logp.dispose();
  alpha.dispose();
  lens.dispose();
  if (hostTargets) tgt.dispose();
  return grad ? { loss, nll, grad } : { loss, nll };
}

export interface CtcGreedyResult {
  /** [N, T] i32: the decoded labels of sample n first, then -1 padding. */
  tokens: Tensor;
  /** [N] i32: the decoded length of each sample. */
  lengths: Tensor;
}

/**
 * Greedy (best-path) decoding of scores [T, N, C] (logits, log-probs or probabilities) on
 * the GPU: per-frame argmax, repeats merged, blanks dropped. Frames t >= inputLengths[n]
 * are ignored.
 */
export function ctcGreedyDecode(rt: Runtime, scores: Tensor, inputLengths?: ArrayLike<number>, blank = 0): CtcGreedyResult {
  const op = 'ctc_greedy_decode';
  expectRank(op, 'scores', scores, 3);
  expectDType(op, 'scores', scores, 'f32');
  expectNonEmpty(op, 'scores', scores);
  const [T, N, C] = scores.shape as [number, number, number];
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) throw new OpInputError(op, `blank an integer in [0, ${C}) (C = ${C})`, String(blank));
  const maxGroups = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (N > maxGroups) throw new OpInputError(op, `a batch of at most ${maxGroups} samples`, `N = ${N}`);
  if (inputLengths) checkLengths(op, 'input_lengths', inputLengths, N, 0, T, 'T');
  const lens = rt.upload(inputLengths ? Int32Array.from(inputLengths) : new Int32Array(N).fill(T), [N], 'i32');
  const tokens = rt.empty([N, T], 'i32');
  const lengths = rt.empty([N], 'i32');
  rt.dispatch({
    kernel: { name: 'ctc_greedy_decode', code: greedySrc },
    params: [T, N, C, blank],
    bindings: [scores, lens, tokens, lengths],
    workgroups: N,
  });
  lens.dispose();
  return { tokens, lengths };
}

/** Reads a greedy decoding back as one label sequence per sample. */
export async function readCtcGreedy(rt: Runtime, d: CtcGreedyResult): Promise<number[][]> {
  const [tok, len] = await rt.readMany([d.tokens, d.lengths]);
  const [N, T] = d.tokens.shape as [number, number];
  return Array.from({ length: N }, (_, n) => Array.from(tok!.subarray(n * T, n * T + len![n]!)));
}

/** Greedy decoding straight to host sequences (disposes the GPU result). */
export async function ctcGreedyDecodeSequences(rt: Runtime, scores: Tensor, inputLengths?: ArrayLike<number>, blank = 0): Promise<number[][]> {
  const d = ctcGreedyDecode(rt, scores, inputLengths, blank);
  const out = await readCtcGreedy(rt, d);
  d.tokens.dispose();
  d.lengths.dispose();
  return out;
}
