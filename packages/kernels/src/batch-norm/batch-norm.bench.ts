import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { batchNorm, batchNormBackward } from './batch-norm.js';

// The CRNN's batch-normalized feature maps at batch 8 on 32x100 images (after conv3, conv5
// and the last 2x2 convolution's input).
const SHAPES: Array<[number, number, number, number]> = [
  [8, 256, 8, 25],
  [8, 512, 4, 25],
  [8, 512, 2, 25],
];

const EPS = 1e-5;

function inputs(rt: Runtime, [n, c, h, w]: readonly number[], seed: number) {
  const rng = new Rng(seed);
  const size = n! * c! * h! * w!;
  return {
    x: rt.upload(rng.fillUniform(size, -1, 1), [n!, c!, h!, w!]),
    dy: rt.upload(rng.fillUniform(size, -1, 1), [n!, c!, h!, w!]),
    weight: rt.upload(rng.fillUniform(c!, 0.5, 1.5), [c!]),
    bias: rt.upload(rng.fillUniform(c!, -0.5, 0.5), [c!]),
    runningMean: rt.zeros([c!]),
    runningVar: rt.upload(new Float32Array(c!).fill(1), [c!]),
  };
}

/** tfjs normalizes over the last axis: NHWC data made directly (the values are random). */
function tfInputs(tf: Tf, [n, c, h, w]: readonly number[]) {
  return {
    x: tf.randomUniform([n, h, w, c], -1, 1),
    dy: tf.randomUniform([n, h, w, c], -1, 1),
    scale: tf.randomUniform([c], 0.5, 1.5),
    offset: tf.randomUniform([c], -0.5, 0.5),
  };
}

const disposeAll = (ts: Array<{ dispose(): void } | undefined>) => ts.forEach((t) => t?.dispose());

export const benches: BenchSpec[] = SHAPES.flatMap((shape): BenchSpec[] => {
  const [n, c, h, w] = shape;
  const size = n * c * h * w;
  const label = `N${n} C${c} ${h}x${w}`;
  return [
    {
      kernel: 'batch_norm2d_train_forward',
      shape: label,
      bytes: 8 * size, // x read (re-reads hit the cache), y written
      setup(rt) {
        const t = inputs(rt, shape, 1);
        let out: Tensor[] = [];
        return {
          run() {
            disposeAll(out);
            const { y, saved } = batchNorm(rt, t.x, { training: true, weight: t.weight, bias: t.bias, runningMean: t.runningMean, runningVar: t.runningVar });
            out = [y, saved.mean, saved.invstd];
          },
          dispose() {
            disposeAll([...out, ...Object.values(t)]);
          },
        };
      },
      peer(tf: Tf) {
        const t = tfInputs(tf, shape);
        return {
          run: () =>
            tf.tidy(() => {
              const { mean, variance } = tf.moments(t.x, [0, 1, 2]);
              return tf.batchNorm(t.x, mean, variance, t.offset, t.scale, EPS);
            }),
          dispose: () => disposeAll(Object.values(t)),
        };
      },
    },
    {
      kernel: 'batch_norm2d_train_forward_backward',
      shape: label,
      bytes: 20 * size, // forward: x in, y out; backward: dy and x in (twice, cached), dx out
      setup(rt) {
        const t = inputs(rt, shape, 2);
        let out: Tensor[] = [];
        return {
          run() {
            disposeAll(out);
            const { y, saved } = batchNorm(rt, t.x, { training: true, weight: t.weight, bias: t.bias, runningMean: t.runningMean, runningVar: t.runningVar });
            const g = batchNormBackward(rt, t.dy, t.x, saved, t.weight);
            out = [y, saved.mean, saved.invstd, g.dx!, g.dweight!, g.dbias!];
          },
          dispose() {
            disposeAll([...out, ...Object.values(t)]);
          },
        };
      },
      // Forward and backward through tfjs's autodiff of moments + batchNorm.
      peer(tf: Tf) {
        const t = tfInputs(tf, shape);
        const grads = tf.grads((x: unknown, scale: unknown, offset: unknown) => {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return tf.batchNorm(x, mean, variance, offset, scale, EPS);
        });
        return {
          run: () => grads([t.x, t.scale, t.offset], t.dy),
          dispose: () => disposeAll(Object.values(t)),
        };
      },
    },
  ];
});
