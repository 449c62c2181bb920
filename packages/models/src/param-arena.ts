/**
 * A model's parameters packed into one GPU buffer, and their gradients into slots of a
 * second buffer of the same layout: each parameter a view at a multiple of the device's
 * storage offset alignment (256 bytes), in list order. The optimizer steps and the gradient
 * clip see such lists as one run of neighbouring views (kernels' optim/packed-runs.ts) and
 * record a dispatch or two for all of them instead of one or two per tensor: crnn-lite's 22
 * tensors took 22-44 Adam and 45 clip dispatches per step. Kernels bind the views like any
 * tensor, so nothing else changes; the values and gradients are the same bits.
 *
 * A weight load (Module.assign) replaces a parameter's tensor with a separate one; `holds`
 * then says false and the owner packs again.
 */
import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { packedOffsets } from '@crnn/kernels';
import type { Param } from './autograd.js';

export class ParamArena {
  private readonly index: Map<Param, number>;

  private constructor(
    readonly rt: Runtime,
    private readonly params: readonly Param[],
    /** Element offset of each parameter in both buffers. */
    private readonly offsets: readonly number[],
    private readonly values: Tensor,
    private readonly grads: Tensor,
    private readonly views: readonly Tensor[],
  ) {
    this.index = new Map(params.map((p, i) => [p, i]));
  }

  /**
   * Moves the parameters' values (and any gradients they hold) into fresh buffers, in order
   * with the recorded work: each tensor copied into its view, the old one disposed.
   */
  static pack(rt: Runtime, params: readonly Param[]): ParamArena {
    const { offsets, total } = packedOffsets(
      params.map((p) => p.value.size),
      rt.device.limits.minStorageBufferOffsetAlignment,
    );
    const values = rt.empty([Math.max(total, 1)]);
    // Zeros, so that the gaps between slots hold finite values: no gradient is written there,
    // but the clip's scale and the optimizer's range pass over them (into the parameters'
    // gaps, which nothing reads).
    const grads = rt.zeros([Math.max(total, 1)]);
    const views = params.map((p, i) => {
      const v = values.view(p.value.shape, offsets[i]!);
      rt.copy(p.value, v);
      p.value.dispose();
      p.value = v;
      return v;
    });
    const arena = new ParamArena(rt, params, offsets, values, grads, views);
    arena.adoptGrads();
    return arena;
  }

  /** Whether `params` are this arena's, in its order, each still holding its view. */
  holds(params: readonly Param[]): boolean {
    return params.length === this.params.length && params.every((p, i) => p === this.params[i] && p.value === this.views[i]);
  }

  private slot(op: string, p: Param): Tensor {
    const i = this.index.get(p);
    if (i === undefined) throw new OpInputError(op, 'a parameter of this arena', `'${p.name}'`);
    return this.grads.view(p.value.shape, this.offsets[i]!);
  }

  /**
   * Sets p's gradient to host data, written into its slot (the old gradient is disposed).
   * Checks the parameter and the length before anything changes.
   */
  writeGrad(p: Param, data: ArrayLike<number>): void {
    const op = 'param_arena.write_grad';
    if (data.length !== p.value.size) {
      throw new OpInputError(op, `${p.value.size} values for '${p.name}' [${p.value.shape.join(', ')}]`, `${data.length} values`);
    }
    const g = this.slot(op, p);
    this.rt.write(g, data);
    p.zeroGrad();
    p.grad = g;
  }

  /**
   * Copies every gradient that is not in its slot (as backward leaves them: tensors of
   * their own) into it and makes the slot the parameter's gradient.
   */
  adoptGrads(): void {
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g || (g.storage === this.grads.storage && g.byteOffset === this.grads.byteOffset + this.offsets[i]! * 4)) return;
      const s = this.slot('param_arena.adopt_grads', p);
      this.rt.copy(g, s);
      p.zeroGrad();
      p.grad = s;
    });
  }

  /** Lets go of both buffers; parameters and gradients still holding views keep them alive. */
  dispose(): void {
    this.values.dispose();
    this.grads.dispose();
  }
}
