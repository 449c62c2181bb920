import { uploadGolden, type GoldenHandler } from '../golden/golden.js';
import { embedding, embeddingBackward } from './embedding.js';

/**
 * embedding: weight [V, D], indices (int32, any shape); attrs.padding_idx optional.
 * Output y; grad weight of sum(y * grad_outputs.y).
 */
export const embeddingGolden: GoldenHandler = async (rt, c) => {
  const weight = uploadGolden(rt, c.inputs.weight, 'weight');
  const indices = uploadGolden(rt, c.inputs.indices, 'indices');
  const pad = typeof c.attrs.padding_idx === 'number' ? { paddingIdx: c.attrs.padding_idx } : {};
  const y = embedding(rt, weight, indices, pad);
  const dy = uploadGolden(rt, c.grad_outputs?.y, 'grad_outputs.y');
  const dw = embeddingBackward(rt, dy, indices, weight.shape[0]!, pad);
  const [yh, g] = await rt.readMany([y, dw]);
  for (const t of [weight, indices, y, dy, dw]) t.dispose();
  return { outputs: { y: yh! }, grads: { weight: g! } };
};
