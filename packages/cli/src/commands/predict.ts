import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Runtime } from '@crnn/core';
import { ctcBeamSearch } from '@crnn/kernels';
import { isAttentionRecognizer, loadModel, Tape } from '@crnn/models';
import { Charset, decodeImage, preprocess, type Preprocess } from '@crnn/trainer';

export const PREDICT_HELP = `Usage: crnn-cli predict --model DIR IMAGE... [--beam N] [--json]

Reads each image with the model in DIR (model.json + model.safetensors) and prints the text
and a confidence in [0, 1]: greedy decoding (the mean of the emitted characters' probabilities),
or prefix beam search with --beam N (the sequence probability).
`;

/** Softmax over the last axis of logits [T, N, C], for sample n: probabilities [T][C]. */
function probsOf(logits: Float32Array, T: number, N: number, C: number, n: number): Float64Array {
  const p = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[(t * N + n) * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += (p[t * C + c] = Math.exp(logits[(t * N + n) * C + c]! - m));
    for (let c = 0; c < C; c++) p[t * C + c]! /= s;
  }
  return p;
}

export function greedyWithConfidence(p: Float64Array, T: number, C: number, blank = 0): { ids: number[]; confidence: number } {
  const ids: number[] = [];
  const probs: number[] = [];
  let prev = -1;
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (p[t * C + c]! > p[t * C + best]!) best = c;
    if (best !== blank && best !== prev) {
      ids.push(best);
      probs.push(p[t * C + best]!);
    } else if (best !== blank && best === prev && probs.length) {
      probs[probs.length - 1] = Math.max(probs[probs.length - 1]!, p[t * C + best]!);
    }
    prev = best;
  }
  return { ids, confidence: probs.length ? probs.reduce((a, b) => a + b, 0) / probs.length : 0 };
}

export async function predictCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, beam: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(PREDICT_HELP);
    return 0;
  }
  if (!values.model) throw new Error('predict: --model DIR is required');
  if (positionals.length === 0) throw new Error('predict: give at least one image');
  const beam = values.beam ? Number(values.beam) : 0;
  if (!Number.isInteger(beam) || beam < 0) throw new Error(`predict: --beam expects a positive integer, got '${values.beam}'`);
  const rt = await Runtime.create();
  try {
    const { model, config } = loadModel(rt, values.model);
    const charset = new Charset(config.charset);
    const p = config.preprocessing as unknown as Preprocess;
    let failures = 0;
    for (const file of positionals) {
      let image: Float32Array;
      try {
        image = preprocess(decodeImage(readFileSync(file), file), p);
      } catch (e) {
        failures++;
        const msg = e instanceof Error ? e.message : String(e);
        if (values.json) console.log(JSON.stringify({ image: file, error: msg }));
        else console.error(`${file}: ${msg}`);
        continue;
      }
      const tape = new Tape(rt, false, false);
      if (isAttentionRecognizer(model)) {
        // The attention decoder reads its own outputs step by step; no per-frame confidence.
        const [ids] = await model.greedyDecode(rt, tape.constant(rt.upload(image, [1, 1, p.height, p.width])).value);
        tape.dispose();
        const text = charset.decode(ids ?? []);
        if (values.json) console.log(JSON.stringify({ image: file, text, confidence: null }));
        else console.log(`${file}\t${text}\t-`);
        continue;
      }
      const logits = model.forward(tape, tape.constant(rt.upload(image, [1, 1, p.height, p.width])));
      const [T, N, C] = logits.shape as [number, number, number];
      const host = (await rt.read(logits.value)) as Float32Array;
      tape.dispose();
      const probs = probsOf(host, T, N, C, 0);
      let text: string;
      let confidence: number;
      if (beam > 0 && model.info.loss === 'ctc') {
        const [best] = ctcBeamSearch(Float32Array.from(probs), [T, 1, C], { beamWidth: beam, blank: 0 });
        text = charset.decode(best!.sequence);
        confidence = Math.exp(best!.logProb);
      } else {
        const g = greedyWithConfidence(probs, T, C);
        text = charset.decode(g.ids);
        confidence = g.confidence;
      }
      if (values.json) console.log(JSON.stringify({ image: file, text, confidence: Number(confidence.toFixed(6)) }));
      else console.log(`${file}\t${text}\t${confidence.toFixed(4)}`);
    }
    model.dispose();
    return failures ? 1 : 0;
  } finally {
    rt.destroy();
  }
}
