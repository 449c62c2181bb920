/**
 * Optimizer steps and the gradient-norm clip over the parameter list of the seed's CRNN
 * (7 convs with biases, 2 BatchNorm2d(512), LSTM(512, 256, 2 layers, bidirectional),
 * Linear(512, 37): 36 tensors, 8,723,749 parameters). Memory-bound, so they report GB/s from
 * each run's compulsory f32 reads and writes. Setup takes one step so that the lazily
 * created state (and tfjs's accumulators) exist before the clock starts.
 */
import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { clipGradNorm } from './clip-grad-norm.js';
import { Adadelta, Adam, type Optimizer } from './optim.js';
import { packedOffsets } from './packed-runs.js';

/** The seed's CRNN parameters, in torch's `model.parameters()` order. */
export const CRNN_PARAM_SHAPES: readonly (readonly number[])[] = (() => {
  const s: number[][] = [];
  const convs: Array<[number, number, number]> = [[64, 1, 3], [128, 64, 3], [256, 128, 3], [256, 256, 3], [512, 256, 3], [512, 512, 3], [512, 512, 2]];
  convs.forEach(([o, c, k], i) => {
    s.push([o, c, k, k], [o]);
    // BatchNorm2d(512) weight and bias after the 5th and 6th convs.
    if (i === 4 || i === 5) s.push([512], [512]);
  });
  for (let layer = 0; layer < 2; layer++) {
    for (let dir = 0; dir < 2; dir++) s.push([1024, 512], [1024, 256], [1024], [1024]); // input 512 = 2 * 256 in layer 1 too
  }
  s.push([37, 512], [37]);
  return s;
})();

const N = CRNN_PARAM_SHAPES.reduce((a, s) => a + s.reduce((p, q) => p * q, 1), 0);
const SHAPE_STR = `CRNN ${CRNN_PARAM_SHAPES.length} tensors, ${N} params`;

/** Seeded parameter and gradient values per tensor (params in [-0.1, 0.1), grads in [-1, 1)). */
function values(kind: 'param' | 'grad'): Float32Array[] {
  const rng = new Rng(kind === 'param' ? 71 : 72);
  const r = kind === 'param' ? 0.1 : 1;
  return CRNN_PARAM_SHAPES.map((s) => rng.fillUniform(s.reduce((p, q) => p * q, 1), -r, r));
}

/**
 * The tensors, separate or packed: views of one buffer at multiples of the storage offset
 * alignment, in order, as models' ParamArena lays out a trainer's parameters and gradients
 * (the steps and the clip then record a dispatch or two for all of them). The last tensor
 * returned is the packed buffer itself, for disposal; it is not one of the list.
 */
function uploadAll(rt: Runtime, kind: 'param' | 'grad', packed = false): { list: Tensor[]; all: Tensor[] } {
  const v = values(kind);
  if (!packed) {
    const list = v.map((a, i) => rt.upload(a, CRNN_PARAM_SHAPES[i]!));
    return { list, all: list };
  }
  const { offsets, total } = packedOffsets(
    v.map((a) => a.length),
    rt.device.limits.minStorageBufferOffsetAlignment,
  );
  const whole = rt.zeros([total]);
  const list = v.map((a, i) => whole.view(CRNN_PARAM_SHAPES[i]!, offsets[i]!));
  list.forEach((t, i) => rt.write(t, v[i]!));
  return { list, all: [...list, whole] };
}

const packedLabel = (packed: boolean) => (packed ? ', packed' : '');

let peerId = 0;

function stepSpec(kind: 'adam' | 'adadelta', packed = false): BenchSpec {
  return {
    kernel: `${kind}_step`,
    shape: SHAPE_STR + packedLabel(packed),
    // Read p, g and two state tensors; write p and the two state tensors.
    bytes: 7 * N * 4,
    setup(rt) {
      const params = uploadAll(rt, 'param', packed);
      const grads = uploadAll(rt, 'grad', packed);
      const opt: Optimizer = kind === 'adam' ? new Adam({ lr: 4e-5 }) : new Adadelta({ lr: 1.2 });
      opt.step(rt, params.list, grads.list);
      return {
        run: () => opt.step(rt, params.list, grads.list),
        dispose() {
          opt.dispose();
          for (const t of [...params.all, ...grads.all]) t.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const id = peerId++;
      const p = values('param');
      const g = values('grad');
      const names = CRNN_PARAM_SHAPES.map((_, i) => `optim_bench_${id}_${i}`);
      const vars = CRNN_PARAM_SHAPES.map((s, i) => tf.variable(tf.tensor(p[i]!, s), true, names[i]!));
      const grads: Record<string, unknown> = {};
      CRNN_PARAM_SHAPES.forEach((s, i) => (grads[names[i]!] = tf.tensor(g[i]!, s)));
      const opt = kind === 'adam' ? tf.train.adam(4e-5, 0.9, 0.999, 1e-8) : tf.train.adadelta(1.2, 0.9, 1e-6);
      opt.applyGradients(grads);
      return {
        // applyGradients updates the variables in place and returns nothing to dispose.
        run: () => {
          opt.applyGradients(grads);
          return null;
        },
        dispose() {
          opt.dispose();
          tf.dispose([...vars, ...Object.values(grads)]);
        },
      };
    },
  };
}

/**
 * The clip when the norm is below max_norm (the factor is 1 and the scale kernel skips its
 * writes): one read of every gradient.
 */
const clipMeasure = (packed: boolean): BenchSpec => ({
  kernel: 'clip_grad_norm',
  shape: `${SHAPE_STR}${packedLabel(packed)}, norm < max_norm`,
  bytes: N * 4,
  setup(rt) {
    const grads = uploadAll(rt, 'grad', packed);
    let norm: Tensor | null = null;
    return {
      run() {
        norm?.dispose();
        norm = clipGradNorm(rt, grads.list, 1e9);
      },
      dispose() {
        norm?.dispose();
        for (const t of grads.all) t.dispose();
      },
    };
  },
});

/**
 * The clip when it scales (max_norm 3, as the seed trains): a clipped gradient stays below
 * max_norm, so each run first restores the gradients from a copy, which the bytes include
 * (copy: read + write; clip: read, then read + write). Packed, the copy is one buffer's.
 */
const clipScale = (packed: boolean): BenchSpec => ({
  kernel: 'clip_grad_norm',
  shape: `${SHAPE_STR}${packedLabel(packed)}, max_norm 3 (incl. restoring copy)`,
  bytes: 5 * N * 4,
  setup(rt) {
    const src = uploadAll(rt, 'grad', packed);
    const grads = uploadAll(rt, 'grad', packed); // overwritten from src before every clip
    const pairs = packed ? [[src.all.at(-1)!, grads.all.at(-1)!]] : src.list.map((t, i) => [t, grads.list[i]!]);
    let norm: Tensor | null = null;
    return {
      run() {
        norm?.dispose();
        for (const [a, b] of pairs) rt.copy(a!, b!);
        norm = clipGradNorm(rt, grads.list, 3);
      },
      dispose() {
        norm?.dispose();
        for (const t of [...src.all, ...grads.all]) t.dispose();
      },
    };
  },
});

export const benches: BenchSpec[] = [
  stepSpec('adam'),
  stepSpec('adam', true),
  stepSpec('adadelta'),
  stepSpec('adadelta', true),
  clipMeasure(false),
  clipMeasure(true),
  clipScale(false),
  clipScale(true),
];
