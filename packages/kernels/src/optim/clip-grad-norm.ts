import { f32, OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType } from '../validate.js';
import clipSrc from './clip-grad-norm.wgsl.js';

const WG = 256;
/** Elements per invocation before a tensor gets another partial workgroup. */
const PER_THREAD = 4;
/** Most partial workgroups (slots) per tensor: the grid-stride loop covers the rest. */
const MAX_SLOTS = 256;

const kernel = (entryPoint: 'partial' | 'finish' | 'scale') => ({ name: `clip_grad_norm_${entryPoint}`, code: clipSrc, entryPoint, constants: { WG } });

/**
 * torch.nn.utils.clip_grad_norm_(grads, maxNorm) with norm_type 2, in place and without a
 * readback: per-tensor partial sums of squares into a small buffer, one workgroup that
 * turns them into the total norm and the factor min(1, maxNorm / (norm + 1e-6)), then a
 * scale of every gradient by that factor read on the GPU. Returns the total norm as a
 * scalar tensor (the caller reads it when it wants; the caller disposes it).
 *
 * A NaN in any gradient makes the norm NaN and an inf makes it inf (inf + NaN: NaN). As in
 * torch 1.13 (error_if_nonfinite=False) the factor is then NaN (every gradient turns NaN) or
 * 0 (finite gradients turn 0, infinite ones NaN): the trainer reads the norm and skips the
 * step. `maxNorm` may be +Infinity to measure the norm without clipping. An empty list gives
 * a norm of 0, as torch does.
 */
export function clipGradNorm(rt: Runtime, grads: readonly Tensor[], maxNorm: number): Tensor {
  const op = 'clip_grad_norm';
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) throw new OpInputError(op, 'maxNorm > 0 (Infinity to only measure)', String(maxNorm));
  const slots: number[] = [];
  grads.forEach((g, i) => {
    g.assertAlive(`${op} grads[${i}]`);
    expectDType(op, `grads[${i}]`, g, 'f32');
    for (let j = 0; j < i; j++) {
      const h = grads[j]!;
      if (g.buffer === h.buffer && g.byteOffset < h.byteOffset + h.byteLength && h.byteOffset < g.byteOffset + g.byteLength) {
        throw new OpInputError(op, 'distinct gradient tensors', `grads[${i}] overlapping grads[${j}]`);
      }
    }
    slots.push(Math.min(MAX_SLOTS, Math.ceil(g.size / (WG * PER_THREAD))));
  });
  const total = slots.reduce((a, b) => a + b, 0);
  const result = rt.empty([2]);
  const norm = result.view([], 0);
  if (total === 0) {
    // No elements at all: norm 0 and factor 1, as torch returns tensor(0.) and clips nothing.
    rt.write(result, [0, 1]);
    result.dispose();
    return norm;
  }
  const partials = rt.empty([total, 3]);
  let slot = 0;
  grads.forEach((g, i) => {
    const n = slots[i]!;
    if (n === 0) return;
    rt.dispatch({ kernel: kernel('partial'), params: [g.size, slot, f32(0)], bindings: [g, partials], workgroups: n });
    slot += n;
  });
  rt.dispatch({ kernel: kernel('finish'), params: [total, 0, f32(maxNorm)], bindings: [partials, result], workgroups: 1 });
  for (const g of grads) {
    if (g.size > 0) rt.dispatch({ kernel: kernel('scale'), params: [g.size, 0, f32(0)], bindings: [g, result], workgroups: rt.grid(g.size, WG) });
  }
  partials.dispose();
  result.dispose();
  return norm;
}
