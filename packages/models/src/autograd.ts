/**
 * A small reverse-mode autograd: a tape of recorded ops, each with a closure that calls the
 * op's backward kernels. One tape per step: forward records, `backward(loss)` walks the
 * tape in reverse and accumulates gradients into parameters, `dispose()` frees every
 * intermediate tensor (activations, saved state, non-leaf gradients). With `grad: false`
 * (inference) nothing is recorded and intermediates are still freed at `dispose()`.
 */
import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { add } from '@crnn/kernels';

/** A value in the graph. Parameters are long-lived leaves whose `grad` survives the tape. */
export class Var {
  grad: Tensor | null = null;
  /** Index of the node that produced it on its tape, or -1 for a leaf. */
  node = -1;
  constructor(
    public value: Tensor,
    readonly requiresGrad = false,
    readonly name = '',
  ) {}

  get shape(): readonly number[] {
    return this.value.shape;
  }
}

/** A trainable parameter: a leaf that persists across steps and accumulates its gradient. */
export class Param extends Var {
  constructor(value: Tensor, name = '') {
    super(value, true, name);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}

/** Gradients for each input (null where none flows), given gradients for each output. */
export type BackwardFn = (gradOutputs: ReadonlyArray<Tensor | null>) => Array<Tensor | null | undefined>;

interface Node {
  inputs: ReadonlyArray<Var | undefined>;
  outputs: Var[];
  backward: BackwardFn;
}

export class Tape {
  private nodes: Node[] = [];
  /** Every tensor this tape owns: op outputs and whatever ops saved for backward. */
  private owned: Tensor[] = [];
  private disposed = false;

  constructor(
    readonly rt: Runtime,
    readonly grad = true,
    /** Training mode for layers that differ (batch norm, dropout). */
    readonly training = true,
    /**
     * Seed of this step's random masks (dropout): layers mix it with their own seed, so a
     * step's masks depend only on (model seed, step seed), never on hidden counters, and a
     * resumed run draws the same masks.
     */
    readonly stepSeed = 0,
  ) {}

  /** A 32-bit seed for one layer in this step. */
  seedFor(layerSeed: number): number {
    let h = (layerSeed ^ Math.imul(this.stepSeed ^ 0x9e3779b9, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** Takes ownership of a tensor: freed by dispose(). */
  own<T extends Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /**
   * Records an op: `outputs` are fresh tensors the tape will own; `backward` maps output
   * gradients to input gradients (the tape frees what it returns once accumulated).
   * Nothing is recorded when no input requires a gradient or the tape is in no-grad mode.
   */
  op(inputs: ReadonlyArray<Var | undefined>, outputs: Tensor[], backward: BackwardFn): Var[] {
    if (this.disposed) throw new OpInputError('tape', 'a live tape', 'a disposed tape');
    const needs = this.grad && inputs.some((v) => v?.requiresGrad);
    const vars = outputs.map((t) => new Var(this.own(t), needs));
    if (needs) {
      const index = this.nodes.length;
      for (const v of vars) v.node = index;
      this.nodes.push({ inputs, outputs: vars, backward });
    }
    return vars;
  }

  /** Convenience for single-output ops. */
  op1(inputs: ReadonlyArray<Var | undefined>, output: Tensor, backward: (g: Tensor) => Array<Tensor | null | undefined>): Var {
    return this.op(inputs, [output], (gs) => (gs[0] ? backward(gs[0]) : inputs.map(() => null)))[0]!;
  }

  /** A constant input (data, targets): owned by the tape, no gradient. */
  constant(t: Tensor): Var {
    return new Var(this.own(t), false);
  }

  /**
   * Back-propagates from `loss` (upstream gradient 1, or `seed` of the loss's shape).
   * Parameter gradients are added to `param.grad`.
   */
  backward(loss: Var, seed?: Tensor): void {
    if (!this.grad) throw new OpInputError('backward', 'a tape recorded with grad: true', 'a no-grad tape');
    if (!loss.requiresGrad) throw new OpInputError('backward', 'a loss that depends on a parameter', 'a constant');
    const rt = this.rt;
    const grads = new Map<Var, Tensor>();
    grads.set(loss, seed ?? this.own(rt.upload(new Float32Array(loss.value.size).fill(1), loss.value.shape)));
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      const gOut = node.outputs.map((v) => grads.get(v) ?? null);
      if (gOut.every((g) => g === null)) continue;
      const gIn = node.backward(gOut);
      node.inputs.forEach((v, k) => {
        const g = gIn[k];
        if (!v || !g || !v.requiresGrad) {
          if (g && !(v instanceof Param)) this.own(g);
          return;
        }
        if (v instanceof Param) {
          if (v.grad) {
            const sum = add(rt, v.grad, g);
            v.grad.dispose();
            g.dispose();
            v.grad = sum;
          } else {
            v.grad = g;
          }
          return;
        }
        this.own(g);
        const prev = grads.get(v);
        grads.set(v, prev ? this.own(add(rt, prev, g)) : g);
      });
    }
  }

  private finalizers: Array<() => void> = [];

  /** Runs `fn` at dispose() (for state an op frees itself, like recurrent activations). */
  onDispose(fn: () => void): void {
    this.finalizers.push(fn);
  }

  /** Frees every tensor the tape owns. Parameters and their gradients stay. */
  dispose(): void {
    for (const f of this.finalizers) f();
    this.finalizers = [];
    for (const t of this.owned) t.dispose();
    this.owned = [];
    this.nodes = [];
    this.disposed = true;
  }
}
