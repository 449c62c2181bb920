import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { conv2d, conv2dBackward } from './conv2d.js';

// The CRNN's convolutions at batch 8 on 32x100 images: [C, O, H, W, k, pad], stride 1
// (bench/variants.ts times every kernel variant on them too).
export const SHAPES: Array<[number, number, number, number, number, number]> = [
  [1, 64, 32, 100, 3, 1],
  [64, 128, 16, 50, 3, 1],
  [128, 256, 8, 25, 3, 1],
  [256, 256, 8, 25, 3, 1],
  [256, 512, 4, 25, 3, 1],
  [512, 512, 4, 25, 3, 1],
  [512, 512, 2, 25, 2, 0],
];
const N = 8;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** A seeded uniform tensor in [-scale, scale) (bench/variants.ts makes its inputs with it too). */
export function random(rt: Runtime, shape: number[], seed: number, scale = 1): Tensor {
  return rt.upload(new Rng(seed).fillUniform(size(shape), -scale, scale), shape);
}

function randomTf(tf: Tf, shape: number[], scale = 1) {
  return tf.randomUniform(shape, -scale, scale);
}

export const benches: BenchSpec[] = SHAPES.flatMap(([c, o, h, w, k, p]): BenchSpec[] => {
  const oh = h + 2 * p - k + 1;
  const ow = w + 2 * p - k + 1;
  const opts = { padding: p };
  const fwdFlops = 2 * N * o * oh * ow * c * k * k;
  // The first layer's input is the image, which needs no gradient: its backward is dw + db
  // (as in training, and for the peer too); the others compute dx, dw and db.
  const needDx = c > 1;
  const label = `N${N} C${c}->${o} ${h}x${w} k${k}x${k} p${p}`;
  const wScale = 1 / Math.sqrt(c * k * k);
  // tfjs is NHWC with filters [kh, kw, C, O]; the data is random, so it is made in that layout.
  const tfPad = p === 0 ? 'valid' : 'same';
  return [
    {
      kernel: 'conv2d_forward',
      shape: label,
      flops: fwdFlops,
      setup(rt) {
        const x = random(rt, [N, c, h, w], 1);
        const wt = random(rt, [o, c, k, k], 2, wScale);
        const b = random(rt, [o], 3);
        let y: Tensor | null = null;
        return {
          run() {
            y?.dispose();
            y = conv2d(rt, x, wt, b, opts);
          },
          dispose() {
            y?.dispose();
            for (const t of [x, wt, b]) t.dispose();
          },
        };
      },
      peer(tf: Tf) {
        const x = randomTf(tf, [N, h, w, c]);
        const f = randomTf(tf, [k, k, c, o], wScale);
        const b = randomTf(tf, [o]);
        return {
          run: () => tf.fused.conv2d({ x, filter: f, strides: 1, pad: tfPad, bias: b }),
          dispose: () => {
            for (const t of [x, f, b]) t.dispose();
          },
        };
      },
    },
    {
      kernel: 'conv2d_backward',
      shape: needDx ? `${label} dx+dw+db` : `${label} dw+db`,
      flops: (needDx ? 2 : 1) * fwdFlops,
      setup(rt) {
        const x = random(rt, [N, c, h, w], 4);
        const wt = random(rt, [o, c, k, k], 5, wScale);
        const dy = random(rt, [N, o, oh, ow], 6);
        let outs: Tensor[] = [];
        const release = () => {
          for (const t of outs) t.dispose();
          outs = [];
        };
        return {
          run() {
            release();
            const g = conv2dBackward(rt, dy, x, wt, opts, { x: needDx, w: true, b: true });
            outs = [g.dx, g.dw, g.db].filter((t): t is Tensor => !!t);
          },
          dispose() {
            release();
            for (const t of [x, wt, dy]) t.dispose();
          },
        };
      },
      peer(tf: Tf) {
        const x = randomTf(tf, [N, h, w, c]);
        const f = randomTf(tf, [k, k, c, o], wScale);
        const dy = randomTf(tf, [N, oh, ow, o]);
        return {
          run: () => {
            // Conv2DBackpropFilter has no public tfjs op; run its kernel directly.
            const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: tfPad, dataFormat: 'NHWC', filterShape: [k, k, c, o] });
            const db = tf.sum(dy, [0, 1, 2]);
            return needDx ? [tf.conv2dTranspose(dy, f, [N, h, w, c], 1, tfPad), dw, db] : [dw, db];
          },
          dispose: () => {
            for (const t of [x, f, dy]) t.dispose();
          },
        };
      },
    },
  ];
});
