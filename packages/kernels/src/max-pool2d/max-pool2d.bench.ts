import { Rng, type Runtime } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { maxPool2d, maxPool2dBackward, maxPool2dValues, poolGeometry, type MaxPool2dOptions } from './max-pool2d.js';

// The CRNN's pools at batch 8 on 32x100 images.
const SHAPES: Array<[number[], MaxPool2dOptions]> = [
  [[8, 64, 32, 100], { kernel: 2, stride: 2 }],
  [[8, 128, 16, 50], { kernel: 2, stride: 2 }],
  [[8, 256, 8, 25], { kernel: [2, 1], stride: [2, 1] }],
  [[8, 512, 4, 25], { kernel: [2, 1], stride: [2, 1] }],
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function randomInput(rt: Runtime, shape: number[], seed: number) {
  return rt.upload(new Rng(seed).fillUniform(size(shape), -1, 1), shape);
}

function label(shape: number[], o: MaxPool2dOptions): string {
  const [n, c, h, w] = shape;
  const k = Array.isArray(o.kernel) ? o.kernel.join('x') : `${o.kernel as number}x${o.kernel as number}`;
  const s = Array.isArray(o.stride) ? o.stride.join('x') : `${o.stride as number}x${o.stride as number}`;
  return `N${n} C${c} ${h}x${w} k${k} s${s}`;
}

/** tfjs wants NHWC input and [kh, kw] / [sh, sw] pairs; the data is random, so it is made NHWC directly. */
function tfArgs(shape: number[], o: MaxPool2dOptions) {
  const g = poolGeometry('max_pool2d', shape, o);
  return { nhwc: [g.n, g.h, g.w, g.c], k: [g.kh, g.kw] as [number, number], s: [g.sh, g.sw] as [number, number], dyShape: [g.n, g.ho, g.wo, g.c] };
}

export const benches: BenchSpec[] = SHAPES.flatMap(([shape, opts]): BenchSpec[] => {
  const g = poolGeometry('max_pool2d', shape, opts);
  const inBytes = 4 * size(shape);
  const outCount = g.n * g.c * g.ho * g.wo;
  return [
    {
      kernel: 'max_pool2d_forward',
      shape: label(shape, opts),
      bytes: inBytes + 8 * outCount, // read x, write y and argmax
      setup(rt) {
        const x = randomInput(rt, shape, 1);
        let out: { y: { dispose(): void }; argmax: { dispose(): void } } | null = null;
        return {
          run() {
            out?.y.dispose();
            out?.argmax.dispose();
            out = maxPool2d(rt, x, opts);
          },
          dispose() {
            out?.y.dispose();
            out?.argmax.dispose();
            x.dispose();
          },
        };
      },
      // The same two outputs in tfjs: the values and the flat argmax (its MaxPoolWithArgmax
      // kernel; indexes within the plane, as ours).
      peer(tf: Tf) {
        const a = tfArgs(shape, opts);
        const x = tf.randomUniform(a.nhwc, -1, 1);
        return {
          run: () => tf.maxPoolWithArgmax(x, a.k, a.s, 'valid', false),
          dispose: () => x.dispose(),
        };
      },
    },
    {
      // Inference: y alone (maxPool2dValues), against tfjs's maxPool.
      kernel: 'max_pool2d_forward_values',
      shape: label(shape, opts),
      bytes: inBytes + 4 * outCount, // read x, write y
      setup(rt) {
        const x = randomInput(rt, shape, 1);
        let y: { dispose(): void } | null = null;
        return {
          run() {
            y?.dispose();
            y = maxPool2dValues(rt, x, opts);
          },
          dispose() {
            y?.dispose();
            x.dispose();
          },
        };
      },
      peer(tf: Tf) {
        const a = tfArgs(shape, opts);
        const x = tf.randomUniform(a.nhwc, -1, 1);
        return {
          run: () => tf.maxPool(x, a.k, a.s, 'valid'),
          dispose: () => x.dispose(),
        };
      },
    },
    {
      kernel: 'max_pool2d_backward',
      shape: label(shape, opts),
      bytes: 8 * outCount + inBytes, // read dy and argmax, write dx
      setup(rt) {
        const x = randomInput(rt, shape, 2);
        const { y, argmax } = maxPool2d(rt, x, opts);
        const dy = randomInput(rt, [g.n, g.c, g.ho, g.wo], 3);
        let dx: { dispose(): void } | null = null;
        return {
          run() {
            dx?.dispose();
            dx = maxPool2dBackward(rt, dy, argmax, shape, opts);
          },
          dispose() {
            dx?.dispose();
            for (const t of [x, y, argmax, dy]) t.dispose();
          },
        };
      },
      // tfjs's MaxPoolGrad kernel, called directly with the forward output it needs.
      peer(tf: Tf) {
        const a = tfArgs(shape, opts);
        const x = tf.randomUniform(a.nhwc, -1, 1);
        const y = tf.maxPool(x, a.k, a.s, 'valid');
        const dy = tf.randomUniform(a.dyShape, -1, 1);
        return {
          run: () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: a.k, strides: a.s, pad: 'valid' }),
          dispose: () => {
            for (const t of [x, y, dy]) t.dispose();
          },
        };
      },
    },
  ];
});
