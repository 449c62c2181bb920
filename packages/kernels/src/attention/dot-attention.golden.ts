import { uploadGolden, type GoldenHandler } from '../golden/golden.js';
import { dotAttention, dotAttentionBackward } from './dot-attention.js';

/**
 * dot_attention: encoder [N, S, H], decoder [N, T, H] -> context [N, T, H], attention
 * [N, T, S]; grads encoder and decoder of sum(context * g.context) + sum(attention *
 * g.attention), with whichever of the two grad_outputs the case holds.
 */
export const dotAttentionGolden: GoldenHandler = async (rt, c) => {
  const enc = uploadGolden(rt, c.inputs.encoder, 'encoder');
  const dec = uploadGolden(rt, c.inputs.decoder, 'decoder');
  const { context, attention } = dotAttention(rt, enc, dec);
  const gc = c.grad_outputs?.context ? uploadGolden(rt, c.grad_outputs.context, 'grad_outputs.context') : null;
  const ga = c.grad_outputs?.attention ? uploadGolden(rt, c.grad_outputs.attention, 'grad_outputs.attention') : null;
  const g = dotAttentionBackward(rt, gc, ga, enc, dec, attention);
  const [ctx, attn, de, dd] = await rt.readMany([context, attention, g.dEncoder, g.dDecoder]);
  for (const t of [enc, dec, context, attention, g.dEncoder, g.dDecoder, gc, ga]) t?.dispose();
  return { outputs: { context: ctx!, attention: attn! }, grads: { encoder: de!, decoder: dd! } };
};
