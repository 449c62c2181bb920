import type { GoldenHandler } from '../golden/golden.js';
import { uploadGolden } from '../golden/golden.js';
import { maxPool2d, maxPool2dBackward, type MaxPool2dOptions } from './max-pool2d.js';

/** max_pool2d: attrs kernel, stride, padding; outputs y; grads x of sum(y * grad_outputs.y). */
export const maxPool2dGolden: GoldenHandler = async (rt, c) => {
  const a = c.attrs as { kernel: [number, number]; stride?: [number, number]; padding?: [number, number] };
  const opts: MaxPool2dOptions = { kernel: a.kernel, ...(a.stride ? { stride: a.stride } : {}), ...(a.padding ? { padding: a.padding } : {}) };
  const x = uploadGolden(rt, c.inputs.x, 'x');
  const { y, argmax } = maxPool2d(rt, x, opts);
  const tensors = [x, y, argmax];
  const outs = [y];
  if (c.grad_outputs?.y) {
    const dy = uploadGolden(rt, c.grad_outputs.y, 'grad_outputs.y');
    const dx = maxPool2dBackward(rt, dy, argmax, x.shape, opts);
    tensors.push(dy, dx);
    outs.push(dx);
  }
  const [yh, dxh] = await rt.readMany(outs);
  for (const t of tensors) t.dispose();
  return { outputs: { y: yh! }, ...(dxh ? { grads: { x: dxh } } : {}) };
};
