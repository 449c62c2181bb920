import { parseArgs } from 'node:util';
import { Runtime } from '@crnn/core';
import { loadModel } from '@crnn/models';
import { Charset, ImageDataset, readSamples, TrainingSession, type Preprocess } from '@crnn/trainer';

export const EVAL_HELP = `Usage: crnn-cli eval --model DIR --data DIR|FILE [--batch B] [--json]

Evaluates the model in DIR on a folder of labelled images (or a label file): character error
rate, sequence accuracy, 1-NED and the count. --json prints one line:
{"samples":N,"cer":x,"accuracy":y,"ned":z}
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, data: { type: 'string' }, batch: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  if (!values.model || !values.data) throw new Error('eval: --model DIR and --data DIR are required');
  const rt = await Runtime.create();
  try {
    const { model, config } = loadModel(rt, values.model);
    const charset = new Charset(config.charset);
    const p = config.preprocessing as unknown as Preprocess;
    const samples = readSamples(values.data, p.caseFold);
    const ds = ImageDataset.load(samples, p, charset, { onWarning: (w) => console.error(`warning: ${w}`) });
    const session = new TrainingSession(rt, model, null as never, null);
    const ev = await session.evaluate(ds.batches(Number(values.batch ?? 32), { shuffle: null }), charset);
    const m = ev.metrics;
    if (values.json) console.log(JSON.stringify({ samples: m.samples, cer: m.cer, accuracy: m.accuracy, ned: m.ned }));
    else console.log(`samples ${m.samples}  CER ${(m.cer * 100).toFixed(2)}%  accuracy ${(m.accuracy * 100).toFixed(2)}%  1-NED ${m.ned.toFixed(4)}  loss ${ev.loss.toFixed(4)}${ds.skipped.length ? `  (${ds.skipped.length} unreadable skipped)` : ''}`);
    model.dispose();
    return 0;
  } finally {
    rt.destroy();
  }
}
