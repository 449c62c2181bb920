/**
 * Micro-batching: the one definition of a training step's gradient that single-process and
 * distributed training share, so that both give bit-identical weights for any worker count.
 *
 * A global batch of B images is cut into M = cfg.microBatches micro-batches: micro-batch k
 * holds items [floor(k*B/M), floor((k+1)*B/M)); empty ones (B < M) are dropped. For each
 * micro-batch, from the same weights and the same BatchNorm running statistics r0 (the values
 * at the start of the step):
 *   - forward in training mode (BatchNorm uses the micro-batch's own statistics), with the
 *     dropout seed microSeed(seed, step, k): never the worker's;
 *   - loss = the micro-batch's own mean loss; backward gives g_k; the forward leaves r_k
 *     (r0 updated with this micro-batch's statistics).
 * Then, on the host, by a fixed binary tree over the micro-batch indices (never arrival
 * order), each addition rounded to f32:
 *   g = ((g_0 + g_1) + (g_2 + g_3)) / m        (m = number of micro-batches present)
 *   r = ((r_0 + r_1) + (r_2 + r_3)) / m        (r_k = running stats after micro-batch k's forward)
 *   loss = mean of the micro-batch losses (f64, in k order)
 * A worker holding every micro-batch of a tree node sends that node's sum (one gradient
 * instead of several): see Part and combineParts.
 * A non-finite loss, gradient or buffer in any micro-batch makes the step non-finite: the
 * trainer skips it (nothing changes: weights, buffers, optimizer, BN counters). Otherwise g is
 * uploaded into the parameters' gradients, clipped (clipGradNorm on the GPU) and the optimizer
 * steps; the buffers become r and num_batches_tracked grows by m.
 */
import type { Runtime } from '@crnn/core';
import { Tape, type Recognizer } from '@crnn/models';
import type { Batch } from '../data/index.js';
import { modelLoss } from './session.js';

export interface MicroBatch {
  /** Index in the step, 0..M-1. */
  k: number;
  /** [n, C, H, W] row-major. */
  images: Float32Array;
  shape: [number, number, number, number];
  labels: number[][];
  /** Dropout seed of this micro-batch. */
  seed: number;
}

export interface MicroResult {
  k: number;
  loss: number;
  /** Per parameter (model.parameters() order): its gradient, or null when the loss does not reach it. */
  grads: Array<Float32Array | null>;
  /** Per buffer (model.namedBuffers() order): its value after this micro-batch's forward. */
  buffers: Float32Array[];
}

/** Per-step timing and traffic, for the progress line and metrics.csv. */
export interface StepStats {
  /** Workers alive at the end of the step (1 for in-process training). */
  workers: number;
  computeMs: number;
  /** Communication on the critical path (what the step waited for). */
  commMs: number;
  /** All host time spent on communication, overlapped or not (distributed only). */
  commAllMs?: number;
  waitMs: number;
  /** Bytes sent plus received by the coordinator during the step. */
  bytes: number;
  /** Micro-batches dealt again (lost workers, non-finite results). */
  redealt: number;
}

/** The model a step executor works on. */
export interface ExecutorContext {
  rt: Runtime;
  model: Recognizer;
  /** Zoo name, hyper-parameters and seed: what a worker needs to build the same model. */
  modelName: string;
  hyper: { numClasses: number; inChannels: number; height: number; width: number };
  seed: number;
  batch: number;
  /** Micro-batches per step (the reduction tree's width). */
  microBatches: number;
  log: (s: string) => void;
  warn: (s: string) => void;
}

/**
 * Computes the micro-batch results of a step. The in-process one is LocalExecutor; the
 * websocket coordinator is another.
 */
export interface StepExecutor {
  attach(ctx: ExecutorContext): Promise<void>;
  /** Results of every micro-batch, in k order, against the model's current weights and r0. */
  run(step: number, micro: MicroBatch[], r0: Float32Array[]): Promise<{ parts: Part[]; stats: StepStats }>;
  /** Reports progress (for a status endpoint). */
  progress?(p: Record<string, number | string>): void;
  /** Training ended (normally or not). */
  finish(reason: string): Promise<void>;
}

/** The dropout seed of micro-batch k of a step: a function of (seed, step, k) only. */
export function microSeed(seed: number, step: number, k: number): number {
  let h = ((seed * 1000003 + step) >>> 0) ^ Math.imul(k + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Cuts a batch into at most M micro-batches (empty ones dropped), in order. */
export function splitBatch(batch: Batch, M: number, seed: number, step: number): MicroBatch[] {
  const [B, C, H, W] = batch.shape;
  const per = C * H * W;
  const out: MicroBatch[] = [];
  for (let k = 0; k < M; k++) {
    const a = Math.floor((k * B) / M);
    const b = Math.floor(((k + 1) * B) / M);
    if (b <= a) continue;
    out.push({
      k,
      images: batch.images.subarray(a * per, b * per),
      shape: [b - a, C, H, W],
      labels: batch.labels.slice(a, b),
      seed: microSeed(seed, step, k),
    });
  }
  return out;
}

/**
 * Forward and backward of one micro-batch on `model` (whose buffers must hold r0), read back
 * to the host. Leaves no gradient in the model. Used by the in-process executor and workers.
 */
export async function computeMicro(rt: Runtime, model: Recognizer, mb: MicroBatch): Promise<MicroResult> {
  model.zeroGrad();
  const tape = new Tape(rt, true, true, mb.seed);
  try {
    const { loss } = modelLoss(tape, model, tape.constant(rt.upload(mb.images, mb.shape)), { labels: mb.labels });
    tape.backward(loss);
    const grads = model.parameters().map((p) => p.grad);
    const bufs = model.namedBuffers().map(([, t]) => t);
    const present = grads.filter((g) => g !== null);
    const host = await rt.readMany([loss.value, ...present, ...bufs]);
    let at = 1;
    const hostGrads = grads.map((g) => (g ? (host[at++] as Float32Array) : null));
    const hostBufs = bufs.map(() => host[at++] as Float32Array);
    return { k: mb.k, loss: host[0]![0]!, grads: hostGrads, buffers: hostBufs };
  } finally {
    tape.dispose();
    model.zeroGrad();
  }
}

/**
 * A partial sum: the value of one node of the fixed reduction tree over the micro-batch
 * indices. Node (level j, index a) covers k in [a*2^j, (a+1)*2^j); its value is, over the
 * micro-batches present in that range, the f32 sum of its two children's values (one child
 * alone when the other has none; a leaf is the micro-batch's own result). Whoever holds every
 * micro-batch of a node may send the node's value instead of its leaves: the sums are the same
 * bits wherever they are computed, so the reduction does not depend on the dealing.
 */
export interface Part {
  level: number;
  index: number;
  /** The micro-batches it covers, ascending. */
  ks: number[];
  /** Their losses, in the order of ks. */
  losses: number[];
  /** Per parameter: the summed gradient, or null when the loss reaches it in none of them. */
  grads: Array<Float32Array | null>;
  /** Per buffer: the summed running statistics. */
  buffers: Float32Array[];
}

export const leafPart = (r: MicroResult): Part => ({ level: 0, index: r.k, ks: [r.k], losses: [r.loss], grads: r.grads, buffers: r.buffers });

/** Levels of the reduction tree for M micro-batches: the root is (levels, 0). */
export function treeLevels(M: number): number {
  let L = 0;
  while (1 << L < M) L++;
  return L;
}

/** The node's range of micro-batch indices. */
export const nodeRange = (level: number, index: number): [number, number] => [index * 2 ** level, (index + 1) * 2 ** level];

/**
 * The maximal tree nodes whose present micro-batches all lie in `ks` (a subset of `present`):
 * what a worker dealt `ks` returns, one partial sum per node, in k order.
 */
export function decompose(ks: readonly number[], present: readonly number[], M: number): Array<{ level: number; index: number; ks: number[] }> {
  const mine = new Set(ks);
  const out: Array<{ level: number; index: number; ks: number[] }> = [];
  const visit = (j: number, a: number) => {
    const [lo, hi] = nodeRange(j, a);
    const inNode = present.filter((k) => k >= lo && k < hi);
    const held = inNode.filter((k) => mine.has(k));
    if (held.length === 0) return;
    if (held.length === inNode.length) {
      out.push({ level: j, index: a, ks: held });
      return;
    }
    visit(j - 1, 2 * a);
    visit(j - 1, 2 * a + 1);
  };
  visit(treeLevels(M), 0);
  return out;
}

/**
 * A node of the reduction tree for one tensor: a part's array, or the f32 sum of two nodes.
 * Nodes that lack the tensor (a parameter no micro-batch reached) are dropped, so a sum with
 * one present side is that side, as before.
 */
type Expr = Float32Array | { l: Expr; r: Expr; scratch: Float32Array };

/** Elements per chunk: the scratch arrays of a whole tree stay in the CPU cache. */
const CHUNK = 16384;

/**
 * Evaluates `e` over [lo, hi) and returns the values (a view). Each addition is rounded to f32
 * by the store into a Float32Array, in the tree's order, so the bits are those of adding whole
 * arrays node by node; chunking only keeps the partial sums in cache and reads every part once.
 */
function evalChunk(e: Expr, lo: number, hi: number): Float32Array {
  if (e instanceof Float32Array) return e.subarray(lo, hi);
  const a = evalChunk(e.l, lo, hi);
  const b = evalChunk(e.r, lo, hi);
  const out = e.scratch;
  const n = hi - lo;
  for (let j = 0; j < n; j++) out[j] = a[j]! + b[j]!;
  return out;
}

/**
 * One tensor of a node: a part's own array when the node is a single part and no division is
 * asked; else a new array, divided by `m` when given. `bad.v` turns true on NaN or +-Infinity.
 */
function evalTensor(e: Expr, m: number | null, bad: { v: boolean }): Float32Array {
  if (e instanceof Float32Array && m === null) return e;
  const length = lengthOf(e);
  const out = new Float32Array(length);
  let nonFinite = false;
  for (let lo = 0; lo < length; lo += CHUNK) {
    const hi = Math.min(length, lo + CHUNK);
    const v = evalChunk(e, lo, hi);
    const n = hi - lo;
    if (m === null) out.set(v.subarray(0, n), lo);
    else
      for (let j = 0; j < n; j++) {
        const x = v[j]!;
        if (x - x !== 0) nonFinite = true; // NaN or +-Infinity (x / m is finite exactly when x is)
        out[lo + j] = x / m;
      }
  }
  if (nonFinite) bad.v = true;
  return out;
}

type Node = { part: Part } | { l: Node; r: Node };

/**
 * The tree of node (level, index) over the parts at or below it (leaves or whole sub-trees):
 * null when none of its micro-batches is present; a node with one present side is that side.
 * Callers check that the parts cover what they expect (reduceParts counts micro-batches).
 */
function planNode(parts: readonly Part[], level: number, index: number): Node | null {
  const byNode = new Map(parts.map((p) => [`${p.level}/${p.index}`, p]));
  const value = (j: number, a: number): Node | null => {
    const hit = byNode.get(`${j}/${a}`);
    if (hit) return { part: hit };
    if (j === 0) return null;
    const l = value(j - 1, 2 * a);
    const r = value(j - 1, 2 * a + 1);
    if (!l || !r) return l ?? r;
    return { l, r };
  };
  return value(level, index);
}

const nodeParts = (n: Node): Part[] => ('part' in n ? [n.part] : [...nodeParts(n.l), ...nodeParts(n.r)]);

/** The expression of one tensor (picked from each part), or null when no part has it. */
function exprOf(n: Node, pick: (p: Part) => Float32Array | null): Expr | null {
  if ('part' in n) return pick(n.part);
  const l = exprOf(n.l, pick);
  const r = exprOf(n.r, pick);
  if (!l || !r) return l ?? r;
  return { l, r, scratch: new Float32Array(CHUNK) };
}

/** Evaluates every gradient and buffer of a planned node (divided by m when given). */
function evalNode(n: Node, m: number | null, bad: { v: boolean }): { grads: Array<Float32Array | null>; buffers: Float32Array[] } {
  const first = nodeParts(n)[0]!;
  const grads = first.grads.map((_, i) => {
    const e = exprOf(n, (p) => p.grads[i] ?? null);
    return e ? evalTensor(e, m, bad) : null;
  });
  const buffers = first.buffers.map((_, i) => {
    return evalTensor(exprOf(n, (p) => p.buffers[i]!)!, m, bad);
  });
  return { grads, buffers };
}

const lengthOf = (e: Expr): number => (e instanceof Float32Array ? e.length : lengthOf(e.l));

/**
 * The value of node (level, index) from parts at or below it (leaves or whole sub-trees):
 * null when none of its micro-batches is present. A node that is one part is that part.
 */
export function combineParts(parts: readonly Part[], level: number, index: number): Part | null {
  const n = planNode(parts, level, index);
  if (!n) return null;
  if ('part' in n) return n.part;
  const all = nodeParts(n);
  const { grads, buffers } = evalNode(n, null, { v: false });
  return { level, index, ks: all.flatMap((p) => p.ks), losses: all.flatMap((p) => p.losses), grads, buffers };
}

/** True when every value of a part (losses, gradients, buffers) is finite. */
export function partIsFinite(p: Part): boolean {
  if (!p.losses.every(Number.isFinite)) return false;
  // x - x is 0 for every finite x and NaN for NaN and +-Infinity: one branch-free pass.
  const ok = (a: Float32Array) => {
    let acc = 0;
    for (let i = 0; i < a.length; i++) acc += a[i]! - a[i]!;
    return acc === 0;
  };
  return p.grads.every((g) => g === null || ok(g)) && p.buffers.every(ok);
}

export interface Reduced {
  loss: number;
  /** Per parameter: the mean gradient, or null when no micro-batch reached it. */
  grads: Array<Float32Array | null>;
  buffers: Float32Array[];
  finite: boolean;
  count: number;
}

/**
 * The step's mean gradient and buffers from the parts covering every present micro-batch:
 * the root of the reduction tree divided by m (f32), and the mean loss (f64, in k order).
 */
export function reduceParts(parts: readonly Part[], M: number): Reduced {
  const losses = parts.flatMap((p) => p.ks.map((k, i) => [k, p.losses[i]!] as const)).sort((a, b) => a[0] - b[0]);
  const m = losses.length;
  const loss = losses.reduce((s, [, l]) => s + l, 0) / m;
  const root = planNode(parts, treeLevels(M), 0)!;
  const covered = nodeParts(root).reduce((s, p) => s + p.ks.length, 0);
  if (covered !== m) throw new Error(`reduceParts: the parts cover ${covered} of ${m} micro-batches`);
  // Sum by the tree and divide by m in one pass per chunk, checking finiteness on the way.
  const bad = { v: false };
  const { grads, buffers } = evalNode(root, m, bad);
  return { loss, grads, buffers, finite: losses.every(([, l]) => Number.isFinite(l)) && !bad.v, count: m };
}

/** In-process execution: every micro-batch on the trainer's own model, in order. */
export class LocalExecutor implements StepExecutor {
  private ctx: ExecutorContext | null = null;

  async attach(ctx: ExecutorContext): Promise<void> {
    this.ctx = ctx;
  }

  async run(_step: number, micro: MicroBatch[], r0: Float32Array[]): Promise<{ parts: Part[]; stats: StepStats }> {
    const { rt, model } = this.ctx!;
    const t0 = performance.now();
    const bufs = model.namedBuffers().map(([, t]) => t);
    const parts: Part[] = [];
    for (const mb of micro) {
      bufs.forEach((t, i) => rt.write(t, r0[i]!));
      parts.push(leafPart(await computeMicro(rt, model, mb)));
    }
    return { parts, stats: { workers: 1, computeMs: performance.now() - t0, commMs: 0, waitMs: 0, bytes: 0, redealt: 0 } };
  }

  async finish(): Promise<void> {}
}
