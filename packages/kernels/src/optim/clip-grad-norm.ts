import { f32, OpInputError, type Kernel, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, overlaps } from '../validate.js';
import clipSrc from './clip-grad-norm.wgsl.js';
import { packedRuns, runElements, runOffset, runRange, type Run } from './packed-runs.js';

const WG = 256;
/** Most partial workgroups (slots) per tensor: the grid-stride loop covers the rest. */
const MAX_SLOTS = 256;

/**
 * Partial workgroups (slots) for a tensor of nv vec4s. GPUs: one per WG vec4s (one vec4 per
 * invocation and round), at most MAX_SLOTS. A software adapter runs each workgroup's tree
 * reduction (eight barriers) for ~8 us and has a few threads to keep busy: at least
 * SOFT_MIN_SLOTS workgroups where the tensor fills them, then one more per SOFT_PER vec4s per
 * invocation. On the seed CRNN's 36 tensors (8.7 M parameters) the software rule took the
 * clip from 30 ms (4 per invocation) and 23 ms (16) to 15-17 ms (256); see BENCHMARKS.md.
 */
const SOFT_MIN_SLOTS = 8;
const SOFT_PER = 256;
export function partialSlots(rt: Runtime, nv: number): number {
  const fill = Math.ceil(nv / WG);
  if (!rt.info.isSoftware) return Math.min(MAX_SLOTS, fill);
  return Math.min(MAX_SLOTS, fill, Math.max(SOFT_MIN_SLOTS, Math.ceil(nv / (WG * SOFT_PER))));
}

/**
 * vec4s per invocation of the elementwise-shaped vec4 kernels here and in optim.ts (`scale4`,
 * the optimizers' `main4`): 4 on a software adapter, where fewer, longer invocations cost less
 * (as for elementwise/unary.wgsl), 1 on GPUs.
 */
export const vec4sPerInvocation = (rt: Runtime) => (rt.info.isSoftware ? 4 : 1);

type Entry = 'partial' | 'partial4' | 'partial_table' | 'finish' | 'scale' | 'scale4';
const kernel = (entryPoint: Entry, per = 1): Kernel => {
  const constants: Record<string, number> = entryPoint === 'scale4' ? { WG, PER: per } : { WG };
  return { name: `clip_grad_norm_${entryPoint}`, code: clipSrc, entryPoint, constants };
};

/** Partial workgroups of one tensor: `body` for its vec4s, `tail` (0 or 1) for the 1-3 left over. */
interface Slots {
  body: number;
  tail: number;
}

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
  const slots: Slots[] = [];
  grads.forEach((g, i) => {
    g.assertAlive(`${op} grads[${i}]`);
    expectDType(op, `grads[${i}]`, g, 'f32');
    for (let j = 0; j < i; j++) {
      if (overlaps(g, grads[j]!)) {
        throw new OpInputError(op, 'distinct gradient tensors', `grads[${i}] overlapping grads[${j}]`);
      }
    }
    const nv = Math.floor(g.size / 4);
    slots.push({ body: partialSlots(rt, nv), tail: g.size % 4 === 0 ? 0 : 1 });
  });
  const total = slots.reduce((a, b) => a + b.body + b.tail, 0);
  const result = rt.empty([2]);
  const norm = result.view([], 0);
  if (total === 0) {
    // No elements at all: norm 0 and factor 1, as torch returns tensor(0.) and clips nothing.
    rt.write(result, [0, 1]);
    result.dispose();
    return norm;
  }
  const partials = rt.empty([total, 3]);
  const runs = packedRuns([grads], rt.device.limits.minStorageBufferOffsetAlignment);
  let slot = 0;
  for (const r of runs) {
    if (r.end - r.start > 1) {
      slot = partialRun(rt, grads, r, slots, slot, partials);
      continue;
    }
    const g = grads[r.start]!;
    const { body, tail } = slots[r.start]!;
    const nv = Math.floor(g.size / 4);
    if (body > 0) rt.dispatch({ kernel: kernel('partial4'), params: [nv, slot, f32(0), 0], bindings: [g, partials], workgroups: body });
    slot += body;
    if (tail > 0) rt.dispatch({ kernel: kernel('partial'), params: [g.size, slot, f32(0), 4 * nv], bindings: [g, partials], workgroups: 1 });
    slot += tail;
  }
  rt.dispatch({ kernel: kernel('finish'), params: [total, 0, f32(maxNorm), 0], bindings: [partials, result], workgroups: 1 });
  const sper = vec4sPerInvocation(rt);
  for (const r of runs) {
    // A run of neighbours is scaled over its whole range (runRange), the gaps between them
    // included (under 256 bytes each, never read as gradients).
    const g = r.end - r.start > 1 ? grads[r.start]!.span(runRange([grads], r)) : grads[r.start]!;
    const nv = Math.floor(g.size / 4);
    if (nv > 0) rt.dispatch({ kernel: kernel('scale4', sper), params: [nv, 0, f32(0), 0], bindings: [g, result], workgroups: rt.grid(Math.ceil(nv / sper), WG) });
    if (g.size > 4 * nv) rt.dispatch({ kernel: kernel('scale'), params: [g.size, 0, f32(0), 4 * nv], bindings: [g, result], workgroups: 1 });
    if (g !== grads[r.start]) g.dispose();
  }
  partials.dispose();
  result.dispose();
  return norm;
}

/** Test hook: workgroups per partial_table dispatch (0: the device's grid dimension). */
export const clipTuning = { maxTableGroups: 0 };

/**
 * partial4 and partial of every tensor of a run of neighbours as one `partial_table`
 * dispatch (several where the run has more slots than a grid dimension holds): workgroup k
 * gets table entry k, the walk and the slot it would have had in the tensor's own dispatch,
 * so the partials, and the norm, are the same bits. Returns the next free slot.
 */
function partialRun(rt: Runtime, grads: readonly Tensor[], r: Run, slots: readonly Slots[], slot0: number, partials: Tensor): number {
  let count = 0;
  let key = '';
  for (let i = r.start; i < r.end; i++) {
    const { body, tail } = slots[i]!;
    count += body + tail;
    key += `${runOffset(grads, r, i)}:${grads[i]!.size}:${body},`;
  }
  if (count === 0) return slot0;
  const table = tableFor(rt, key, () => {
    const entries: number[] = [];
    for (let i = r.start; i < r.end; i++) {
      const g = grads[i]!;
      const { body, tail } = slots[i]!;
      const e0 = runOffset(grads, r, i); // elements; a multiple of 4 (16-byte aligned views)
      const nv = Math.floor(g.size / 4);
      for (let j = 0; j < body; j++) entries.push(e0 / 4 + j * WG, e0 / 4 + nv, body * WG, 0);
      if (tail > 0) entries.push(e0 + 4 * nv, e0 + g.size, WG, 1);
    }
    return entries;
  });
  const span = grads[r.start]!.span(runElements(grads, r));
  const max = clipTuning.maxTableGroups || rt.device.limits.maxComputeWorkgroupsPerDimension;
  for (let k = 0; k < count; k += max) {
    rt.dispatch({ kernel: kernel('partial_table'), params: [0, slot0 + k, f32(0), k], bindings: [span, partials, table], workgroups: Math.min(max, count - k) });
  }
  span.dispose();
  return slot0 + count;
}

/**
 * The uploaded slot table of a run layout, cached per runtime: a trainer clips the same
 * arena every step. A few layouts at most; the oldest goes when a ninth comes.
 */
const TABLES_KEPT = 8;
const tables = new WeakMap<Runtime, Map<string, Tensor>>();
function tableFor(rt: Runtime, key: string, entries: () => number[]): Tensor {
  let m = tables.get(rt);
  if (!m) tables.set(rt, (m = new Map()));
  let t = m.get(key);
  if (t && !t.isDisposed) {
    // Most recently used last.
    m.delete(key);
    m.set(key, t);
    return t;
  }
  const e = entries();
  t = rt.upload(e, [e.length / 4, 4], 'u32');
  m.set(key, t);
  if (m.size > TABLES_KEPT) {
    const [oldKey, old] = m.entries().next().value!;
    m.delete(oldKey);
    old.dispose();
  }
  return t;
}
