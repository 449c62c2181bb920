/**
 * The multi-layer, optionally bidirectional recurrent driver shared by `lstm` and `gru`
 * (PyTorch semantics, parameters named and shaped as torch.nn.LSTM / torch.nn.GRU name
 * them). Per layer:
 *
 * forward   gx = x W_ih^T + b_ih for all T steps and both directions (one matmul per
 *           direction, written into one buffer), then T fused step dispatches, each running
 *           both directions (the forward one at t = s, the reverse at T-1-s): one invocation
 *           per hidden unit and batch tile computes all gates (a dot of h_prev with the unit's
 *           W_hh rows, + gx + b_hh), the nonlinearities and the state update. h passes from
 *           step to step through two ping-pong buffers [dirs, N, Hp] (rows padded to a
 *           multiple of 4, read as vec4); every step also saves it as the next time's h_prev
 *           in hp, which backward's dW_hh matmul reads.
 * backward  T fused step dispatches (both directions) that turn dy + the recurrent gradient
 *           (computed in the same kernel from the previous step's gate gradients and W_hh)
 *           into gate gradients for every step, passed on through ping-pong buffers (rows:
 *           gate gradients | carries) and saved in dg; then, batched over all t,
 *           dW_ih = dg^T x, dW_hh = dg^T h_prev, dx = dg W_ih as matmuls and db as column sums.
 *
 * Two variants of the step kernels (RecurrentVariant): `subgroup` for adapters with
 * subgroups of 8+ lanes (lavapipe, GPUs), `generic` for any adapter. W_hh is repacked into
 * vec4s per call (pack.wgsl).
 * Between layers, in training mode with dropout > 0, the next layer's input is
 * dropout(y, p, dropoutSeed(seed, layer)) (elementwise/dropout), as torch does.
 */
import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { dropout as dropoutOp, dropoutBackward } from '../elementwise/elementwise.js';
import { hasWideSubgroups, matmul } from '../matmul/matmul.js';
import { expectDType, expectPositiveInts, expectRank, expectShape } from '../validate.js';
import packSrc from './pack.wgsl.js';
import rowsSrc from './rows.wgsl.js';
import colsumSrc from './colsum.wgsl.js';

/** What distinguishes the cells: gate count and the step kernels. */
export interface CellSpec {
  op: 'lstm' | 'gru';
  /** G: gates per hidden unit (LSTM i,f,g,o: 4; GRU r,z,n: 3). */
  gates: 3 | 4;
  /** LSTM carries a cell state c. */
  hasCell: boolean;
  /** Step kernels for any adapter. */
  forwardCode: string;
  backwardCode: string;
  /** The same steps for CPU adapters with 8-lane subgroups (`enable subgroups`). */
  forwardSgCode: string;
  backwardSgCode: string;
}

/**
 * Step kernel variants: `generic` runs on any adapter; `subgroup` shares loaded values
 * across 8-lane subgroups (subgroupBroadcast), which is what pays on CPU adapters such as
 * lavapipe, where storage loads run lane by lane, and still a little on GPUs. `auto`
 * (default) picks `subgroup` on adapters with subgroups of 8 or more lanes, else `generic`.
 * On an H100 the 2-layer BiLSTM / BiGRU of the benches (T 24, N 8, I 512, H 256) took
 * 9.54-9.59 / 7.47 ms forward + backward with `subgroup` against 10.17-10.44 / 7.86 with
 * `generic` (GPU time, medians of 15-30, five runs / two: bench/run-variants.js).
 */
export type RecurrentVariant = 'auto' | 'generic' | 'subgroup';

export interface RecurrentOptions {
  hiddenSize: number;
  /** Stacked layers (default 1); layer k > 0 reads layer k-1's output y. */
  numLayers?: number;
  /** Adds a reverse direction per layer; y becomes [T, N, 2H] (default false). */
  bidirectional?: boolean;
  /** Dropout probability on the inputs of layers 1.. in training mode (default 0). */
  dropout?: number;
  /** Seed of the dropout masks: layer k uses dropoutSeed(seed, k) (default 0). */
  seed?: number;
  /** Training mode: applies dropout (default false). */
  training?: boolean;
  /** Initial hidden state [layers*dirs, N, H] (default zeros). */
  h0?: Tensor;
  /** Initial cell state [layers*dirs, N, H], LSTM only (default zeros). */
  c0?: Tensor;
  /** Step kernel variant (tests, benchmarks); backward uses the forward's. */
  variant?: RecurrentVariant;
}

interface LayerSaved {
  /** The layer's input [T, N, I_k] (after dropout). Layer 0's is the caller's x. */
  xin: Tensor;
  ownsXin: boolean;
  /** [dirs, T, N, 4H] saved activations. */
  act: Tensor;
  /** [dirs][strideH] blocks [T, N, H]: the h_prev of every time. */
  hp: Tensor;
  /** [dirs, T+1, N, H] cell states in step order (LSTM). */
  cs?: Tensor;
  /** Dropout seed of this layer's input, when dropout was applied. */
  dropSeed?: number;
}

/** What backward needs; `dispose()` frees it (backward does so unless told to keep it). */
export interface RecurrentSaved {
  readonly op: 'lstm' | 'gru';
  readonly T: number;
  readonly N: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly dirs: number;
  readonly dropout: number;
  readonly hasH0: boolean;
  readonly hasC0: boolean;
  readonly hasBias: boolean;
  readonly variant: 'generic' | 'subgroup';
  /** The parameters, by torch name (not owned). */
  readonly params: Readonly<Record<string, Tensor>>;
  readonly layers: readonly LayerSaved[];
  readonly disposed: boolean;
  dispose(): void;
}

export interface RecurrentResult {
  /** [T, N, dirs*H]: the last layer's hidden states. */
  y: Tensor;
  /** [layers*dirs, N, H]: each layer and direction's final hidden state. */
  hN: Tensor;
  /** [layers*dirs, N, H]: final cell states (LSTM only). */
  cN?: Tensor;
  saved: RecurrentSaved;
}

export interface RecurrentGradsIn {
  /** Gradient of hN [layers*dirs, N, H] (default none). */
  dhN?: Tensor;
  /** Gradient of cN [layers*dirs, N, H], LSTM only (default none). */
  dcN?: Tensor;
  /** Keep `saved` alive for another backward (default: backward disposes it). */
  keepSaved?: boolean;
}

export interface RecurrentGrads {
  /** [T, N, inputSize]. */
  dx: Tensor;
  /** One gradient per parameter, keyed by its torch name. */
  grads: Record<string, Tensor>;
  /** [layers*dirs, N, H], when h0 was given. */
  dh0?: Tensor;
  /** [layers*dirs, N, H], when c0 was given (LSTM). */
  dc0?: Tensor;
}

// Generic step kernels (see the .wgsl headers): WG lanes per workgroup, NB batch rows per
// lane. The subgroup kernels have fixed 8-lane workgroups of 8 rows.
const STEP_WG = 64;
const STEP_NB = 4;
const SG = 8;
const PACK_WG = 256;
const COLSUM_WG = 64;

// The subgroup step kernels need subgroups of at least 8 lanes, as matmul's do.
export { hasWideSubgroups };

function pickVariant(rt: Runtime, op: string, v: RecurrentVariant | undefined): 'generic' | 'subgroup' {
  const want = v ?? 'auto';
  if (want === 'auto') return hasWideSubgroups(rt) ? 'subgroup' : 'generic';
  if (want === 'subgroup' && !hasWideSubgroups(rt)) {
    throw new OpInputError(op, "variant 'subgroup' on an adapter with subgroups of 8+ lanes", 'an adapter without them');
  }
  if (want !== 'generic' && want !== 'subgroup') throw new OpInputError(op, "variant 'auto', 'generic' or 'subgroup'", String(want));
  return want;
}

/** The dropout seed of layer k's input (k >= 1). */
export function dropoutSeed(seed: number, layer: number): number {
  return (seed + Math.imul(layer, 0x9e3779b9)) >>> 0;
}

/** torch.nn.LSTM / GRU parameter names of layer k, direction d. */
export function paramNames(layer: number, d: number): { wih: string; whh: string; bih: string; bhh: string } {
  const sfx = `_l${layer}${d === 1 ? '_reverse' : ''}`;
  return { wih: `weight_ih${sfx}`, whh: `weight_hh${sfx}`, bih: `bias_ih${sfx}`, bhh: `bias_hh${sfx}` };
}

/** Elements of a direction's block, rounded so that every block starts 256-byte aligned. */
const alignedStride = (n: number) => Math.ceil(n / 64) * 64;

function fmt(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

interface Dims {
  I: number;
  H: number;
  L: number;
  dirs: number;
}

function checkParams(op: string, cell: CellSpec, params: Record<string, Tensor>, d: Dims): void {
  const G = cell.gates * d.H;
  const expected = new Set<string>();
  let biases = 0;
  for (let l = 0; l < d.L; l++) {
    const inF = l === 0 ? d.I : d.dirs * d.H;
    for (let dir = 0; dir < d.dirs; dir++) {
      const nm = paramNames(l, dir);
      const shapes: Array<[string, number[]]> = [
        [nm.wih, [G, inF]],
        [nm.whh, [G, d.H]],
        [nm.bih, [G]],
        [nm.bhh, [G]],
      ];
      for (const [name, shape] of shapes) {
        expected.add(name);
        const t = params[name];
        if (!t) {
          if (name === nm.bih || name === nm.bhh) continue;
          throw new OpInputError(op, `parameter ${name} of shape ${fmt(shape)}`, 'no such parameter');
        }
        if (name === nm.bih || name === nm.bhh) biases++;
        expectShape(op, `parameter ${name}`, t, shape);
        expectDType(op, `parameter ${name}`, t, 'f32');
      }
    }
  }
  if (biases !== 0 && biases !== 2 * d.L * d.dirs) {
    throw new OpInputError(op, 'every bias_ih_l*/bias_hh_l* parameter or none (torch bias=False)', `${biases} of ${2 * d.L * d.dirs}`);
  }
  for (const name of Object.keys(params)) {
    if (!expected.has(name)) {
      throw new OpInputError(op, `only parameters named as torch.nn.${op.toUpperCase()} names them (${[...expected].slice(0, 4).join(', ')}, ...)`, `an unknown parameter '${name}'`);
    }
  }
}

function checkState(op: string, name: string, t: Tensor | undefined, shape: number[]): void {
  if (!t) return;
  expectShape(op, name, t, shape);
  expectDType(op, name, t, 'f32');
}

const roundUp4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Records the repacking of one direction's W_hh (pack.wgsl): MODE 0 for the forward step
 * (gates of a unit in a vec4, then b_hh), MODE 1 for the backward step (row quads).
 */
function pack(rt: Runtime, cell: CellSpec, mode: 0 | 1, w: Tensor, b: Tensor | undefined, dst: Tensor, H: number, d: number, dirs: number): void {
  const Hp = roundUp4(H);
  const total = mode === 0 ? Hp * H + H : roundUp4(cell.gates * H) * (Hp / 4);
  rt.dispatch({
    kernel: { name: `${cell.op}_pack`, code: packSrc, constants: { WG: PACK_WG, G: cell.gates, MODE: mode } },
    params: [H, d, dirs],
    bindings: [w, b ?? rt.placeholder, dst],
    workgroups: rt.grid(total, PACK_WG),
  });
}

/** A block of rows between strided layouts (rows.wgsl); clears the block when src is absent. */
interface RowBlock {
  rows: number;
  cols: number;
  srcOff: number;
  srcStride: number;
  dstOff: number;
  dstStride: number;
}

function copyRows(rt: Runtime, src: Tensor | undefined, dst: Tensor, b: RowBlock): void {
  rt.dispatch({
    kernel: { name: 'recurrent_rows', code: rowsSrc, constants: { WG: PACK_WG, HAS_SRC: src ? 1 : 0 } },
    params: [b.rows, b.cols, b.srcOff, b.srcStride, b.dstOff, b.dstStride],
    bindings: [src ?? rt.placeholder, dst],
    workgroups: rt.grid(b.rows * b.cols, PACK_WG),
  });
}

/** Column sums of the [rows, cols] block of x at xOff (colsum.wgsl): a bias gradient. */
function colsum(rt: Runtime, x: Tensor, xOff: number, rows: number, cols: number): Tensor {
  const out = rt.empty([cols]);
  rt.dispatch({
    kernel: { name: 'recurrent_colsum', code: colsumSrc, constants: { WG: COLSUM_WG } },
    params: [rows, cols, xOff],
    bindings: [x, out],
    workgroups: rt.grid(cols, COLSUM_WG),
  });
  return out;
}

/** Copies `n` elements of src at srcOff into dst at dstOff, or clears them when src is absent. */
function copyOrZero(rt: Runtime, src: Tensor | undefined, srcOff: number, dst: Tensor, dstOff: number, n: number): void {
  const to = dst.view([n], dstOff);
  if (src) {
    const from = src.view([n], srcOff);
    rt.copy(from, to);
    from.dispose();
  } else rt.fillZero(to);
  to.dispose();
}

export function recurrentForward(rt: Runtime, cell: CellSpec, x: Tensor, params: Record<string, Tensor>, o: RecurrentOptions): RecurrentResult {
  const op = cell.op;
  expectRank(op, 'x', x, 3);
  expectDType(op, 'x', x, 'f32');
  const [T, N, I] = x.shape as [number, number, number];
  expectPositiveInts(op, 'x dimensions [T, N, input]', [T, N, I]);
  const H = o.hiddenSize;
  expectPositiveInts(op, 'hiddenSize', [H]);
  const L = o.numLayers ?? 1;
  expectPositiveInts(op, 'numLayers', [L]);
  const dirs = o.bidirectional ? 2 : 1;
  const p = o.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new OpInputError(op, 'dropout in [0, 1)', String(p));
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new OpInputError(op, 'an integer seed', String(seed));
  if (!cell.hasCell && o.c0) throw new OpInputError(op, 'no c0 (a GRU has no cell state)', 'c0');
  const stateShape = [L * dirs, N, H];
  checkState(op, 'h0', o.h0, stateShape);
  checkState(op, 'c0', o.c0, stateShape);
  const hasBias = params[paramNames(0, 0).bih] !== undefined;
  checkParams(op, cell, params, { I, H, L, dirs });
  const variant = pickVariant(rt, op, o.variant);

  const G = cell.gates * H;
  const A = 4 * H; // saved activations per row: LSTM i,f,g,o; GRU r,z,n,a
  const Hp = roundUp4(H);
  const strideG = alignedStride(T * N * G);
  const strideH = alignedStride(T * N * H);
  const nState = dirs * N * H;
  const applyDropout = !!o.training && p > 0 && L > 1;
  const hN = rt.empty(stateShape);
  const cN = cell.hasCell ? rt.empty(stateShape) : undefined;
  const kernel =
    variant === 'subgroup'
      ? { name: `${op}_forward_step_sg`, code: cell.forwardSgCode }
      : { name: `${op}_forward_step`, code: cell.forwardCode, constants: { WG: STEP_WG, NB: STEP_NB } };
  const workgroups: [number, number, number] =
    variant === 'subgroup' ? [Math.ceil(H / SG), dirs, Math.ceil(N / SG)] : [Math.ceil(H / STEP_WG), dirs, Math.ceil(N / STEP_NB)];
  const layers: LayerSaved[] = [];
  let input = x;
  let y: Tensor | undefined;
  for (let l = 0; l < L; l++) {
    const inF = l === 0 ? I : dirs * H;
    let xin = input;
    let dropSeed: number | undefined;
    if (l > 0 && applyDropout) {
      dropSeed = dropoutSeed(seed, l);
      xin = dropoutOp(rt, input, p, dropSeed);
      input.dispose();
    }
    // Input projections of every time step, both directions, in one buffer: block d holds
    // [T*N, G] = x W_ih_d^T + b_ih_d (the matmul accumulates into a cleared view).
    const gx = rt.zeros([dirs * strideG]);
    const x2 = xin.reshape([T * N, inF]);
    for (let d = 0; d < dirs; d++) {
      const nm = paramNames(l, d);
      const view = gx.view([T * N, G], d * strideG);
      const bih = params[nm.bih];
      matmul(rt, x2, params[nm.wih]!, { transB: true, accumulate: view, ...(bih ? { bias: bih } : {}) });
      view.dispose();
    }
    x2.dispose();
    const wpack = rt.empty([(dirs * Hp * H + dirs * H) * 4]);
    const zb = hasBias ? undefined : rt.zeros([G]); // no biases: the pack kernel reads zeros
    for (let d = 0; d < dirs; d++) {
      const nm = paramNames(l, d);
      pack(rt, cell, 0, params[nm.whh]!, params[nm.bhh] ?? zb, wpack, H, d, dirs);
    }
    zb?.dispose();
    // hp[d, t] = h_prev of time t (saved for backward); the first time of each direction
    // (0 forward, T-1 reverse) gets h0.
    const hp = rt.empty([dirs * strideH]);
    for (let d = 0; d < dirs; d++) {
      copyOrZero(rt, o.h0, (l * dirs + d) * N * H, hp, d * strideH + (d === 0 ? 0 : (T - 1) * N * H), N * H);
    }
    // h ping-pong [dirs, N, Hp]: step s reads hbuf[s % 2] and writes hbuf[(s + 1) % 2]; the
    // padding past H stays zero.
    const hbuf = [rt.zeros([dirs * N * Hp]), rt.zeros([dirs * N * Hp])] as const;
    if (o.h0) copyRows(rt, o.h0, hbuf[0], { rows: dirs * N, cols: H, srcOff: l * nState, srcStride: H, dstOff: 0, dstStride: Hp });
    let cs: Tensor | undefined;
    if (cell.hasCell) {
      cs = rt.empty([dirs * (T + 1) * N * H]);
      for (let d = 0; d < dirs; d++) copyOrZero(rt, o.c0, (l * dirs + d) * N * H, cs, d * (T + 1) * N * H, N * H);
    }
    y = rt.empty([T, N, dirs * H]);
    const act = rt.empty([dirs, T, N, A]);
    for (let s = 0; s < T; s++) {
      const [hin, hout] = s % 2 === 0 ? [hbuf[0], hbuf[1]] : [hbuf[1], hbuf[0]];
      rt.dispatch({
        kernel,
        params: [T, N, H, dirs, s, strideG, strideH, Hp / 4],
        bindings: cell.hasCell ? [gx, wpack, hin, hout, hp, cs!, y, act] : [gx, wpack, hin, hout, hp, y, act],
        workgroups,
      });
    }
    // The last step's h of each direction, and (LSTM) c from slot T of each direction's block.
    copyRows(rt, T % 2 === 0 ? hbuf[0] : hbuf[1], hN, { rows: dirs * N, cols: H, srcOff: 0, srcStride: Hp, dstOff: l * nState, dstStride: H });
    if (cs && cN) {
      for (let d = 0; d < dirs; d++) copyOrZero(rt, cs, (d * (T + 1) + T) * N * H, cN, (l * dirs + d) * N * H, N * H);
    }
    gx.dispose();
    wpack.dispose();
    hbuf[0].dispose();
    hbuf[1].dispose();
    layers.push({ xin, ownsXin: l > 0, act, hp, ...(cs ? { cs } : {}), ...(dropSeed !== undefined ? { dropSeed } : {}) });
    input = y;
  }

  let disposed = false;
  const saved: RecurrentSaved = {
    op,
    T,
    N,
    inputSize: I,
    hiddenSize: H,
    numLayers: L,
    dirs,
    dropout: applyDropout ? p : 0,
    hasH0: !!o.h0,
    hasC0: !!o.c0,
    hasBias,
    variant,
    params: { ...params },
    layers,
    get disposed() {
      return disposed;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of layers) {
        if (s.ownsXin) s.xin.dispose();
        s.act.dispose();
        s.hp.dispose();
        s.cs?.dispose();
      }
    },
  };
  return { y: y!, hN, ...(cN ? { cN } : {}), saved };
}

export function recurrentBackward(rt: Runtime, cell: CellSpec, dy: Tensor, saved: RecurrentSaved, gi: RecurrentGradsIn = {}): RecurrentGrads {
  const op = `${cell.op}_backward`;
  if (saved.op !== cell.op) throw new OpInputError(op, `the saved state of ${cell.op}()`, `that of ${saved.op}()`);
  if (saved.disposed) throw new OpInputError(op, 'saved state that is alive', 'a disposed one (backward frees it unless keepSaved)');
  const { T, N, hiddenSize: H, numLayers: L, dirs, inputSize: I } = saved;
  expectShape(op, 'dy', dy, [T, N, dirs * H]);
  expectDType(op, 'dy', dy, 'f32');
  const stateShape = [L * dirs, N, H];
  checkState(op, 'dhN', gi.dhN, stateShape);
  if (!cell.hasCell && gi.dcN) throw new OpInputError(op, 'no dcN (a GRU has no cell state)', 'dcN');
  checkState(op, 'dcN', gi.dcN, stateShape);
  for (const [name, t] of Object.entries(saved.params)) t.assertAlive(`${op} (parameter ${name})`);
  if (saved.layers[0]!.xin.isDisposed) throw new OpInputError(op, 'x alive until backward', 'a disposed x');

  const G = cell.gates * H;
  const Hp = roundUp4(H);
  const Gp = roundUp4(G);
  const Hq = Hp / 4;
  // gin/gout rows: (gate gradients | carry_h | carry_c for LSTM), each part padded to 4.
  const rowLen = Gp + Hp + (cell.hasCell ? Hp : 0);
  const strideG = alignedStride(T * N * G);
  const strideH = alignedStride(T * N * H);
  const nState = dirs * N * H;
  const grads: Record<string, Tensor> = {};
  const dh0 = saved.hasH0 ? rt.empty(stateShape) : undefined;
  const dc0 = saved.hasC0 ? rt.empty(stateShape) : undefined;
  const kernel =
    saved.variant === 'subgroup'
      ? { name: `${cell.op}_backward_step_sg`, code: cell.backwardSgCode }
      : { name: `${cell.op}_backward_step`, code: cell.backwardCode, constants: { WG: STEP_WG, NB: STEP_NB } };
  const workgroups: [number, number, number] =
    saved.variant === 'subgroup' ? [Math.ceil(Hq / SG), dirs, Math.ceil(N / SG)] : [Math.ceil(Hq / STEP_WG), dirs, Math.ceil(N / STEP_NB)];
  // Offsets of carry_h and carry_c in a gin/gout row.
  const offH = Gp;
  const offC = Gp + Hp;
  const rows = dirs * N;
  let dyl = dy;
  let dx: Tensor | undefined;
  for (let l = L - 1; l >= 0; l--) {
    const s = saved.layers[l]!;
    const inF = l === 0 ? I : dirs * H;
    // W_hh of both directions as row quads [dirs, Gp, Hq] vec4 (one binding).
    const wq = rt.empty([dirs * Gp * Hq * 4]);
    for (let d = 0; d < dirs; d++) pack(rt, cell, 1, saved.params[paramNames(l, d).whh]!, undefined, wq, H, d, dirs);
    // dg: input-side gate gradients; dgh: hidden-side (differs from dg for GRU's n gate).
    const dg = rt.empty([dirs * strideG]);
    const dgh = cell.hasCell ? dg : rt.empty([dirs * strideG]);
    // Ping-pong [dirs, N, rowLen]: step s reads gbuf[s % 2] and writes gbuf[(s + 1) % 2].
    // Zeros first: the padding is read (times zero weights) and must not be NaN.
    const gbuf = [rt.zeros([dirs * N * rowLen]), rt.zeros([dirs * N * rowLen])] as const;
    if (gi.dhN) copyRows(rt, gi.dhN, gbuf[0], { rows, cols: H, srcOff: l * nState, srcStride: H, dstOff: offH, dstStride: rowLen });
    if (gi.dcN) copyRows(rt, gi.dcN, gbuf[0], { rows, cols: H, srcOff: l * nState, srcStride: H, dstOff: offC, dstStride: rowLen });
    // Steps 0..T-1, then the tail (s = T) that turns the last gate gradients into dh0.
    const steps = saved.hasH0 ? T + 1 : T;
    for (let st = 0; st < steps; st++) {
      const [gin, gout] = st % 2 === 0 ? [gbuf[0], gbuf[1]] : [gbuf[1], gbuf[0]];
      rt.dispatch({
        kernel,
        params: [T, N, H, dirs, st, strideG, strideH, Gp / 4, Hq, rowLen / 4],
        bindings: cell.hasCell ? [dyl, wq, s.act, s.cs!, dg, gin, gout] : [dyl, wq, s.act, s.hp, dg, dgh, gin, gout],
        workgroups,
      });
    }
    const last = steps % 2 === 0 ? gbuf[0] : gbuf[1];
    if (dh0) copyRows(rt, last, dh0, { rows, cols: H, srcOff: offH, srcStride: rowLen, dstOff: l * nState, dstStride: H });
    if (dc0) copyRows(rt, last, dc0, { rows, cols: H, srcOff: offC, srcStride: rowLen, dstOff: l * nState, dstStride: H });
    gbuf[0].dispose();
    gbuf[1].dispose();
    wq.dispose();

    // Parameter gradients and the input gradient, batched over all T*N rows.
    const x2 = s.xin.reshape([T * N, inF]);
    let dxin: Tensor | undefined;
    for (let d = 0; d < dirs; d++) {
      const nm = paramNames(l, d);
      const dgv = dg.view([T * N, G], d * strideG);
      const dghv = dgh.view([T * N, G], d * strideG);
      const hpv = s.hp.view([T * N, H], d * strideH);
      grads[nm.wih] = matmul(rt, dgv, x2, { transA: true });
      grads[nm.whh] = matmul(rt, dghv, hpv, { transA: true });
      if (saved.hasBias) {
        grads[nm.bih] = colsum(rt, dg, d * strideG, T * N, G);
        if (dgh === dg) {
          // LSTM: b_ih and b_hh enter the same pre-activations, so their gradients are equal.
          grads[nm.bhh] = rt.empty([G]);
          rt.copy(grads[nm.bih]!, grads[nm.bhh]!);
        } else grads[nm.bhh] = colsum(rt, dgh, d * strideG, T * N, G);
      }
      const wih = saved.params[nm.wih]!;
      if (d === 0) dxin = matmul(rt, dgv, wih);
      else matmul(rt, dgv, wih, { accumulate: dxin! });
      dgv.dispose();
      dghv.dispose();
      hpv.dispose();
    }
    x2.dispose();
    dg.dispose();
    if (dgh !== dg) dgh.dispose();
    if (dyl !== dy) dyl.dispose();
    if (l > 0) {
      const dropped = s.dropSeed !== undefined ? dropoutBackward(rt, dxin!, saved.dropout, s.dropSeed) : dxin!;
      if (dropped !== dxin) dxin!.dispose();
      dyl = dropped.reshape([T, N, dirs * H]);
      dropped.dispose();
    } else {
      dx = dxin!.reshape([T, N, I]);
      dxin!.dispose();
    }
  }
  if (!gi.keepSaved) saved.dispose();
  return { dx: dx!, grads, ...(dh0 ? { dh0 } : {}), ...(dc0 ? { dc0 } : {}) };
}
