/**
 * Optimizers with PyTorch 1.13's update rules (torch.optim.SGD, Adam, Adadelta), each step a
 * GPU kernel over every parameter tensor, plus the global gradient-norm clip.
 *
 * One dispatch per parameter tensor (two when its size is not a multiple of 4: the vec4
 * kernel, then the 1-3 elements left over one at a time), or one per run of neighbouring
 * views: where the parameters are views of one buffer in list order and the gradients views
 * of another laid out alike (models' ParamArena and the trainer's gradient slots), the
 * state is laid out alike too and a run is stepped as one range, the gaps between its
 * tensors (under 256 bytes each) included (packed-runs.ts). The same arithmetic per element
 * either way. On lavapipe each dispatch costs ~40 us (recording and launch): SGD with
 * momentum over crnn-lite's 22 tensors (640 K elements) 4.9 ms, over one tensor of 640 K
 * 1.7 ms (2026-11-22, twelfth session, before the vec4 kernels).
 *
 * State tensors are created lazily on the first step (zero-filled on the GPU; SGD's momentum
 * buffer is written by the first step itself, as torch clones the gradient into it) and are
 * keyed by the position of the parameter in the list, so every step must pass the same list
 * in the same order. State restored by loadStateDict comes as separate tensors; the next
 * step moves it into the runs' layout (one copy per tensor, once).
 */
import { f32, OpInputError, type Param, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, overlaps } from '../validate.js';
import sgdSrc from './sgd.wgsl.js';
import adamSrc from './adam.wgsl.js';
import adadeltaSrc from './adadelta.wgsl.js';

import { vec4sPerInvocation } from './clip-grad-norm.js';
import { packedRuns, runElements4, runOffset, runRange, type Run } from './packed-runs.js';

export { clipGradNorm } from './clip-grad-norm.js';
export { packedOffsets } from './packed-runs.js';

const WG = 256;

interface StepKernel {
  name: string;
  code: string;
  constants: Record<string, number>;
}

/**
 * Records one optimizer kernel over a tensor of n elements: `main4` over the first
 * 4 * floor(n / 4) elements as vec4s, then `main` over the remaining 0-3 elements (params
 * start and end). `params(n, start)` gives the Params; the kernels' first two fields are n
 * (vec4s for main4, the end element for main) and start. With `vec4` false, `main` does all.
 * Same formulas either way (adam.wgsl's header), so the same bits.
 */
function dispatchStep(rt: Runtime, k: StepKernel, n: number, vec4: boolean, params: (n: number, start: number) => Param[], bindings: Tensor[]): void {
  const body = vec4 ? n - (n % 4) : 0;
  if (body > 0) {
    const per = vec4sPerInvocation(rt);
    rt.dispatch({
      kernel: { name: `${k.name}_vec4`, code: k.code, entryPoint: 'main4', constants: { ...k.constants, WG, PER: per } },
      params: params(body / 4, 0),
      bindings,
      workgroups: rt.grid(Math.ceil(body / 4 / per), WG),
    });
  }
  if (body < n) {
    rt.dispatch({
      kernel: { name: k.name, code: k.code, entryPoint: 'main', constants: { ...k.constants, WG } },
      params: params(n, body),
      bindings,
      workgroups: rt.grid(n - body, WG),
    });
  }
}

export type OptimizerKind = 'sgd' | 'adam' | 'adadelta';

/** One state tensor of one parameter, as torch names it (`exp_avg`, `momentum_buffer`, ...). */
export interface StateTensorDesc {
  /** Index of the parameter in the list passed to `step`. */
  param: number;
  name: string;
  shape: number[];
  /** The live state tensor (not a copy): read it with `rt.readMany` before the next step. */
  tensor: Tensor;
}

/**
 * What a checkpoint needs to continue training: the kind, the step count, the
 * hyperparameters (torch's param_group: lr, betas, ...) and every state tensor.
 */
export interface OptimizerStateDict {
  kind: OptimizerKind;
  step: number;
  hyper: Record<string, number | boolean>;
  tensors: StateTensorDesc[];
}

/** A state tensor to restore, from host data (a checkpoint) or from a GPU tensor (copied). */
export interface StateTensorInput {
  param: number;
  name: string;
  shape: readonly number[];
  data?: ArrayLike<number>;
  tensor?: Tensor;
}

export interface OptimizerStateInput {
  kind: OptimizerKind;
  step: number;
  hyper?: Record<string, number | boolean>;
  tensors: readonly StateTensorInput[];
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function expectNumber(op: string, name: string, v: number, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !ok(v)) throw new OpInputError(op, `${name} ${what}`, String(v));
}

/** Shared machinery: validation, lazy state, step count, state dicts. */
export abstract class Optimizer {
  abstract readonly kind: OptimizerKind;
  /** The learning rate of the next step; change it between steps for a schedule. */
  lr: number;
  /** Steps taken (torch's `state['step']`), the `t` of Adam's bias corrections. */
  stepCount = 0;
  /**
   * Whether tensors go through the vec4 kernels (all but a tail of n % 4 elements); false
   * runs one element per invocation throughout. The same bits either way (tested): a switch
   * for that test and for measurements.
   */
  vec4 = true;
  /** state[i][name]: the state tensors of parameter i, or null before the first step. */
  protected state: Array<Record<string, Tensor>> | null = null;

  protected constructor(lr: number) {
    this.lr = lr;
  }

  /** Kernel and error name: `adam_step`. */
  get op(): string {
    return `${this.kind}_step`;
  }

  /** Names of the state tensors each parameter has (torch's names). */
  protected abstract stateNames(): string[];
  /** Names that start as zeros; the others are written by the first step. */
  protected zeroInitNames(): string[] {
    return this.stateNames();
  }
  protected abstract hyper(): Record<string, number | boolean>;
  protected abstract setHyper(h: Record<string, number | boolean>): void;
  protected abstract validateHyper(op: string): void;
  protected abstract dispatchOne(rt: Runtime, p: Tensor, g: Tensor, s: Record<string, Tensor>, first: boolean): void;

  /**
   * Records one update of every parameter from its gradient (no readback, no submit).
   * Throws OpInputError naming the op and the index before anything is recorded when the
   * lists differ in length, a shape or dtype differs, or the list no longer matches the state.
   * NaN or inf gradients propagate into the parameters, as in torch (the trainer skips such
   * steps using `clipGradNorm`'s norm).
   */
  step(rt: Runtime, params: readonly Tensor[], grads: readonly Tensor[]): void {
    const op = this.op;
    this.validateHyper(op);
    this.validate(op, params, grads);
    const runs = packedRuns([params, grads], rt.device.limits.minStorageBufferOffsetAlignment);
    const first = this.state === null;
    if (first) this.state = this.createState(rt, params, runs);
    else this.layOutState(rt, params, runs);
    const state = this.state!;
    this.stepCount++;
    const names = this.stateNames();
    const stateLists = names.map((name) => state.map((t) => t[name]!));
    for (const r of runs) {
      if (r.end - r.start === 1) {
        this.dispatchOne(rt, params[r.start]!, grads[r.start]!, state[r.start]!, first);
        continue;
      }
      // The run as one range in every list: spans from its first tensor over the rest.
      const n = runRange([params, grads, ...stateLists], r);
      const s: Record<string, Tensor> = {};
      for (const name of names) s[name] = state[r.start]![name]!.span(n);
      const p = params[r.start]!.span(n);
      const g = grads[r.start]!.span(n);
      this.dispatchOne(rt, p, g, s, first);
      for (const t of [p, g, ...Object.values(s)]) t.dispose();
    }
  }

  /**
   * Fresh state: per parameter, or per run of neighbours one buffer of the run's range with
   * views at the parameters' offsets, so that the run's spans line up in every list.
   */
  private createState(rt: Runtime, params: readonly Tensor[], runs: readonly Run[]): Array<Record<string, Tensor>> {
    const zero = new Set(this.zeroInitNames());
    const state = params.map(() => ({}) as Record<string, Tensor>);
    for (const r of runs) {
      for (const name of this.stateNames()) {
        if (r.end - r.start === 1) {
          const p = params[r.start]!;
          state[r.start]![name] = zero.has(name) ? rt.zeros(p.shape) : rt.empty(p.shape);
          continue;
        }
        const whole = runStateBuffer(rt, params, r, zero.has(name));
        for (let i = r.start; i < r.end; i++) state[i]![name] = whole.view(params[i]!.shape, runOffset(params, r, i));
        whole.dispose(); // the views keep the buffer
      }
    }
    return state;
  }

  /**
   * Moves state that is not laid out like its run's parameters (restored by loadStateDict,
   * or a run formed since) into that layout: a buffer per run and name, each tensor copied
   * to its view, in order with the recorded work. Runs already laid out are left alone.
   */
  private layOutState(rt: Runtime, params: readonly Tensor[], runs: readonly Run[]): void {
    const state = this.state!;
    for (const r of runs) {
      if (r.end - r.start === 1) continue;
      for (const name of this.stateNames()) {
        const base = state[r.start]![name]!;
        let laidOut = base.byteOffset % 16 === 0;
        for (let i = r.start + 1; i < r.end && laidOut; i++) {
          const t = state[i]![name]!;
          laidOut = t.storage === base.storage && t.byteOffset - base.byteOffset === params[i]!.byteOffset - params[r.start]!.byteOffset;
        }
        if (laidOut) continue;
        const whole = runStateBuffer(rt, params, r, false);
        for (let i = r.start; i < r.end; i++) {
          const old = state[i]![name]!;
          const v = whole.view(params[i]!.shape, runOffset(params, r, i));
          rt.copy(old, v);
          old.dispose();
          state[i]![name] = v;
        }
        whole.dispose();
      }
    }
  }

  private validate(op: string, params: readonly Tensor[], grads: readonly Tensor[]): void {
    if (params.length === 0) throw new OpInputError(op, 'at least one parameter', 'an empty list');
    if (grads.length !== params.length) {
      throw new OpInputError(op, `one gradient per parameter (${params.length})`, `${grads.length} gradients`);
    }
    if (this.state && this.state.length !== params.length) {
      throw new OpInputError(op, `the ${this.state.length} parameters of the previous steps`, `${params.length} parameters`);
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const g = grads[i]!;
      p.assertAlive(`${op} params[${i}]`);
      g.assertAlive(`${op} grads[${i}]`);
      expectDType(op, `params[${i}]`, p, 'f32');
      expectDType(op, `grads[${i}]`, g, 'f32');
      if (!sameShape(p.shape, g.shape)) {
        throw new OpInputError(op, `grads[${i}] of the shape of params[${i}], ${fmt(p.shape)}`, fmt(g.shape));
      }
      if (overlaps(p, g)) throw new OpInputError(op, `grads[${i}] in memory apart from params[${i}]`, 'overlapping tensors');
      for (let j = 0; j < i; j++) {
        if (overlaps(p, params[j]!)) throw new OpInputError(op, `distinct parameters`, `params[${i}] overlapping params[${j}]`);
      }
      const s = this.state?.[i];
      if (s) {
        const any = Object.values(s)[0];
        if (any && !sameShape(any.shape, p.shape)) {
          throw new OpInputError(op, `params[${i}] of shape ${fmt(any.shape)} as in the previous steps`, fmt(p.shape));
        }
      }
    }
  }

  /** Host-side descriptors of the state (live tensors, not copies) plus step and hyperparameters. */
  stateDict(): OptimizerStateDict {
    const tensors: StateTensorDesc[] = [];
    this.state?.forEach((s, param) => {
      for (const name of this.stateNames()) {
        const t = s[name]!;
        tensors.push({ param, name, shape: [...t.shape], tensor: t });
      }
    });
    return { kind: this.kind, step: this.stepCount, hyper: this.hyper(), tensors };
  }

  /**
   * Restores a state dict: copies every state tensor into fresh tensors (from host `data` or
   * a GPU `tensor`), the step count and the hyperparameters. Every (param, name) pair of
   * parameters 0..P-1 must be present. Validates everything before touching the optimizer.
   */
  loadStateDict(rt: Runtime, d: OptimizerStateInput): void {
    const op = `${this.kind}_load_state_dict`;
    const oldHyper = this.hyper();
    const oldState = this.state;
    let byKey: Map<string, StateTensorInput>;
    let count: number;
    try {
      // Check against the restored hyperparameters (amsgrad or momentum decide the names)
      // with no state in the way; on any error put everything back as it was.
      this.state = null;
      if (d.hyper) this.setHyper({ ...oldHyper, ...d.hyper });
      this.validateHyper(op);
      ({ byKey, count } = this.checkStateInput(op, d));
    } catch (e) {
      this.setHyper(oldHyper);
      this.state = oldState;
      throw e;
    }
    this.state = oldState;
    this.disposeState();
    this.stepCount = d.step;
    if (count === 0) return; // no state yet (step 0, or SGD without momentum)
    const state: Array<Record<string, Tensor>> = [];
    for (let i = 0; i < count; i++) {
      const s: Record<string, Tensor> = {};
      for (const name of this.stateNames()) {
        const e = byKey.get(`${i}/${name}`)!;
        if (e.tensor) {
          s[name] = rt.empty(e.shape);
          rt.copy(e.tensor, s[name]);
        } else {
          s[name] = rt.upload(e.data!, e.shape);
        }
      }
      state.push(s);
    }
    this.state = state;
  }

  private checkStateInput(op: string, d: OptimizerStateInput): { byKey: Map<string, StateTensorInput>; count: number } {
    if (d.kind !== this.kind) throw new OpInputError(op, `a '${this.kind}' state dict`, `'${d.kind}'`);
    expectNumber(op, 'step', d.step, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
    const names = this.stateNames();
    const byKey = new Map<string, StateTensorInput>();
    let count = 0;
    for (const e of d.tensors) {
      if (!names.includes(e.name)) throw new OpInputError(op, `state names ${names.join(', ') || '(none)'}`, `'${e.name}'`);
      if (!Number.isInteger(e.param) || e.param < 0) throw new OpInputError(op, 'parameter indices >= 0', String(e.param));
      const key = `${e.param}/${e.name}`;
      if (byKey.has(key)) throw new OpInputError(op, 'one tensor per parameter and name', `two for ${key}`);
      byKey.set(key, e);
      count = Math.max(count, e.param + 1);
      if (e.shape.some((s) => !Number.isInteger(s) || s < 0)) throw new OpInputError(op, `${key} with a shape of non-negative integers`, fmt(e.shape));
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (e.tensor) {
        e.tensor.assertAlive(op);
        if (e.tensor.dtype !== 'f32' || e.tensor.size !== n) {
          throw new OpInputError(op, `${key} as an f32 tensor of ${n} elements`, `${e.tensor.dtype} of ${e.tensor.size}`);
        }
      } else if (!e.data || e.data.length !== n) {
        throw new OpInputError(op, `${key} with ${n} values for shape ${fmt(e.shape)}`, e.data ? `${e.data.length} values` : 'no data');
      }
    }
    for (let i = 0; i < count; i++) {
      const s0 = byKey.get(`${i}/${names[0]!}`);
      for (const name of names) {
        const e = byKey.get(`${i}/${name}`);
        if (!e || !s0) throw new OpInputError(op, `state '${name}' of parameter ${i}`, 'none');
        if (!sameShape(e.shape, s0.shape)) throw new OpInputError(op, `the state of parameter ${i} of one shape`, `${fmt(s0.shape)} and ${fmt(e.shape)}`);
      }
    }
    if (d.step > 0 && names.length > 0 && count === 0) throw new OpInputError(op, `state tensors for step ${d.step}`, 'none');
    return { byKey, count };
  }

  private disposeState(): void {
    for (const s of this.state ?? []) for (const t of Object.values(s)) t.dispose();
    this.state = null;
  }

  /** Frees the state tensors; the optimizer starts over (step 0) if used again. */
  dispose(): void {
    this.disposeState();
    this.stepCount = 0;
  }
}

/**
 * One state buffer for a run: its range rounded up to whole vec4s, so that runRange finds
 * room for the vec4 kernel in the state lists as in the parameters'.
 */
function runStateBuffer(rt: Runtime, params: readonly Tensor[], r: Run, zero: boolean): Tensor {
  const shape = [runElements4(params, r)];
  return zero ? rt.zeros(shape) : rt.empty(shape);
}

// ---- SGD -----------------------------------------------------------------------------------

export interface SgdOptions {
  /** Required, as in torch 1.13. */
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** torch.optim.SGD: momentum (buffer = gradient on the first step), dampening, nesterov, L2 weight decay. */
export class Sgd extends Optimizer {
  readonly kind = 'sgd' as const;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;

  constructor(o: SgdOptions) {
    super(o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.weightDecay = o.weightDecay ?? 0;
    this.validateHyper('sgd');
  }

  protected stateNames(): string[] {
    return this.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected override zeroInitNames(): string[] {
    return []; // the first step writes buf = d
  }

  protected hyper(): Record<string, number | boolean> {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weight_decay: this.weightDecay };
  }

  protected setHyper(h: Record<string, number | boolean>): void {
    this.lr = Number(h.lr);
    this.momentum = Number(h.momentum);
    this.dampening = Number(h.dampening);
    this.nesterov = Boolean(h.nesterov);
    this.weightDecay = Number(h.weight_decay);
  }

  protected validateHyper(op: string): void {
    const finiteNonNeg = (v: number) => Number.isFinite(v) && v >= 0;
    expectNumber(op, 'lr', this.lr, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'momentum', this.momentum, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'dampening', this.dampening, Number.isFinite, 'finite');
    expectNumber(op, 'weight_decay', this.weightDecay, finiteNonNeg, 'finite and >= 0');
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new OpInputError(op, 'nesterov with momentum > 0 and dampening 0', `momentum ${this.momentum}, dampening ${this.dampening}`);
    }
    // The momentum buffer exists or not depending on momentum: it cannot change once created.
    if (this.state && this.state.length > 0 && (this.momentum !== 0) !== 'momentum_buffer' in this.state[0]!) {
      throw new OpInputError(op, 'momentum to stay zero or non-zero once the state exists', `momentum ${this.momentum}`);
    }
  }

  protected dispatchOne(rt: Runtime, p: Tensor, g: Tensor, s: Record<string, Tensor>, first: boolean): void {
    const hasMomentum = this.momentum !== 0;
    dispatchStep(
      rt,
      { name: 'sgd_step', code: sgdSrc, constants: { MOMENTUM: hasMomentum ? 1 : 0, NESTEROV: this.nesterov ? 1 : 0 } },
      p.size,
      this.vec4,
      (n, start) => [n, start, first ? 1 : 0, f32(this.lr), f32(this.momentum), f32(1 - this.dampening), f32(this.weightDecay)],
      [p, g, hasMomentum ? s.momentum_buffer! : rt.placeholder],
    );
  }
}

// ---- Adam ----------------------------------------------------------------------------------

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient (torch.optim.Adam, not AdamW). Default 0. */
  weightDecay?: number;
  amsgrad?: boolean;
}

/** torch.optim.Adam with bias corrections from the step count, computed on the host in float64. */
export class Adam extends Optimizer {
  readonly kind = 'adam' as const;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;

  constructor(o: AdamOptions = {}) {
    super(o.lr ?? 1e-3);
    this.beta1 = o.betas?.[0] ?? 0.9;
    this.beta2 = o.betas?.[1] ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.amsgrad = o.amsgrad ?? false;
    this.validateHyper('adam');
  }

  protected stateNames(): string[] {
    return this.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected hyper(): Record<string, number | boolean> {
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weight_decay: this.weightDecay, amsgrad: this.amsgrad };
  }

  protected setHyper(h: Record<string, number | boolean>): void {
    this.lr = Number(h.lr);
    this.beta1 = Number(h.beta1);
    this.beta2 = Number(h.beta2);
    this.eps = Number(h.eps);
    this.weightDecay = Number(h.weight_decay);
    this.amsgrad = Boolean(h.amsgrad);
  }

  protected validateHyper(op: string): void {
    const finiteNonNeg = (v: number) => Number.isFinite(v) && v >= 0;
    const beta = (v: number) => v >= 0 && v < 1;
    expectNumber(op, 'lr', this.lr, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'beta1', this.beta1, beta, 'in [0, 1)');
    expectNumber(op, 'beta2', this.beta2, beta, 'in [0, 1)');
    expectNumber(op, 'eps', this.eps, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'weight_decay', this.weightDecay, finiteNonNeg, 'finite and >= 0');
    if (this.state && this.state.length > 0 && this.amsgrad !== 'max_exp_avg_sq' in this.state[0]!) {
      throw new OpInputError(op, 'amsgrad unchanged once the state exists', `amsgrad ${this.amsgrad}`);
    }
  }

  protected dispatchOne(rt: Runtime, p: Tensor, g: Tensor, s: Record<string, Tensor>): void {
    // torch: bias_correction1 = 1 - beta1 ** step, step_size = lr / bias_correction1,
    // bias_correction2_sqrt = sqrt(1 - beta2 ** step), all Python floats (float64).
    const t = this.stepCount;
    const stepSize = this.lr / (1 - this.beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    dispatchStep(
      rt,
      { name: 'adam_step', code: adamSrc, constants: { AMSGRAD: this.amsgrad ? 1 : 0 } },
      p.size,
      this.vec4,
      (n, start) => [
        n,
        start,
        f32(stepSize),
        f32(bc2Sqrt),
        f32(this.beta1),
        f32(1 - this.beta1),
        f32(this.beta2),
        f32(1 - this.beta2),
        f32(this.eps),
        f32(this.weightDecay),
      ],
      [p, g, s.exp_avg!, s.exp_avg_sq!, this.amsgrad ? s.max_exp_avg_sq! : rt.placeholder],
    );
  }
}

// ---- Adadelta ------------------------------------------------------------------------------

export interface AdadeltaOptions {
  /** Default 1.0. */
  lr?: number;
  /** Default 0.9. */
  rho?: number;
  /** Default 1e-6. */
  eps?: number;
  weightDecay?: number;
}

/** torch.optim.Adadelta. */
export class Adadelta extends Optimizer {
  readonly kind = 'adadelta' as const;
  rho: number;
  eps: number;
  weightDecay: number;

  constructor(o: AdadeltaOptions = {}) {
    super(o.lr ?? 1.0);
    this.rho = o.rho ?? 0.9;
    this.eps = o.eps ?? 1e-6;
    this.weightDecay = o.weightDecay ?? 0;
    this.validateHyper('adadelta');
  }

  protected stateNames(): string[] {
    return ['square_avg', 'acc_delta'];
  }

  protected hyper(): Record<string, number | boolean> {
    return { lr: this.lr, rho: this.rho, eps: this.eps, weight_decay: this.weightDecay };
  }

  protected setHyper(h: Record<string, number | boolean>): void {
    this.lr = Number(h.lr);
    this.rho = Number(h.rho);
    this.eps = Number(h.eps);
    this.weightDecay = Number(h.weight_decay);
  }

  protected validateHyper(op: string): void {
    const finiteNonNeg = (v: number) => Number.isFinite(v) && v >= 0;
    expectNumber(op, 'lr', this.lr, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'rho', this.rho, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    expectNumber(op, 'eps', this.eps, finiteNonNeg, 'finite and >= 0');
    expectNumber(op, 'weight_decay', this.weightDecay, finiteNonNeg, 'finite and >= 0');
  }

  protected dispatchOne(rt: Runtime, p: Tensor, g: Tensor, s: Record<string, Tensor>): void {
    dispatchStep(
      rt,
      { name: 'adadelta_step', code: adadeltaSrc, constants: {} },
      p.size,
      this.vec4,
      (n, start) => [n, start, f32(this.lr), f32(this.rho), f32(1 - this.rho), f32(this.eps), f32(this.weightDecay)],
      [p, g, s.square_avg!, s.acc_delta!],
    );
  }
}
