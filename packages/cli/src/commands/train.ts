import { parseArgs } from 'node:util';
import { loadTrainConfig, NoWorkersError, train, trainDistributed, type CoordinatorOptions, type TrainConfig } from '@crnn/trainer';

export const TRAIN_HELP = `Usage: crnn-cli train [options]

Trains a recognizer. With no options: the embedded default data set (MNIST digit strings).

Data:
  --data DIR            folder of images named by their label ('226md.png', '12dd_x.jpg' -> '12dd')
  --labels FILE         PaddleOCR label file: path<TAB>label per line
  --val DIR|FILE        validation data (default: a seeded split of the training data)
  --val-ratio R         validation share for the split (default 0.2)
  --charset CHARS       the characters (default: found from the labels)
  --skip-unknown        skip labels with characters outside --charset instead of failing
  --case-fold lower|upper
  --grey luminance|alpha, --binarize T, --keep-aspect, --no-augment
Model:
  --model NAME          zoo model (crnn-cli models), or 'auto' (default: chosen from the data)
  --height H --width W  input size (default: chosen from the data)
Training:
  --epochs N --max-steps N --batch B (16) --seed S (0)
  --optimizer adam|adadelta|sgd (adam) --lr LR --momentum M --weight-decay WD
  --schedule constant|step|cosine|plateau (cosine) --step-size N --gamma G --min-lr LR
  --clip NORM (5; 0 disables) --patience N (early stopping)
  --generated N         size of the default data set (3000)
Output:
  --out DIR             output folder (default runs/latest; with --resume, the resumed folder)
  --resume DIR          continue from DIR/checkpoint
  --config FILE         JSON with any of the fields above (camelCase); flags override it
  --micro-batches M     micro-batches per batch (4; BatchNorm statistics per micro-batch): the
                        gradient is reduced by a fixed tree over them, so any number of workers
                        gives the same weights
  --workers N           data-parallel training with N local worker processes (each with its
                        own WebGPU device) and a coordinator on 127.0.0.1; 0: in this process
Distributed (with --workers, and for crnn-cli coordinator):
  --heartbeat S         seconds between heartbeats (2)
  --timeout S           drop a worker silent for S seconds (30)
  --result-timeout S    drop a worker holding work with no result for S seconds (300)
  --wait-workers S      with no worker left, wait S seconds before stopping (120)
  --quiet
`;

export const FLAGS = {
  data: { type: 'string' },
  labels: { type: 'string' },
  val: { type: 'string' },
  'val-ratio': { type: 'string' },
  charset: { type: 'string' },
  'skip-unknown': { type: 'boolean' },
  'case-fold': { type: 'string' },
  grey: { type: 'string' },
  binarize: { type: 'string' },
  'keep-aspect': { type: 'boolean' },
  'no-augment': { type: 'boolean' },
  model: { type: 'string' },
  height: { type: 'string' },
  width: { type: 'string' },
  epochs: { type: 'string' },
  'max-steps': { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  'step-size': { type: 'string' },
  gamma: { type: 'string' },
  'min-lr': { type: 'string' },
  clip: { type: 'string' },
  patience: { type: 'string' },
  generated: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  config: { type: 'string' },
  workers: { type: 'string' },
  'micro-batches': { type: 'string' },
  heartbeat: { type: 'string' },
  timeout: { type: 'string' },
  'result-timeout': { type: 'string' },
  'wait-workers': { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const NUMERIC = new Set(['val-ratio', 'binarize', 'height', 'width', 'epochs', 'max-steps', 'batch', 'seed', 'lr', 'momentum', 'weight-decay', 'step-size', 'gamma', 'min-lr', 'clip', 'patience', 'generated', 'workers', 'micro-batches']);

/** Flags of the coordinator, not of the training config. */
export const COORDINATOR_KEYS = ['heartbeat', 'timeout', 'result-timeout', 'wait-workers', 'port', 'host', 'token', 'tls-cert', 'tls-key'] as const;

/** Coordinator options from flags; throws on a value that is not a positive number. */
export function coordinatorOptions(values: Record<string, string | boolean | undefined>): Omit<CoordinatorOptions, 'token'> {
  const num = (k: string): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${k}: expected a positive number of seconds, found '${String(v)}'`);
    return n;
  };
  const o: Omit<CoordinatorOptions, 'token'> = {};
  const set = <K extends keyof CoordinatorOptions>(k: K, v: CoordinatorOptions[K] | undefined) => {
    if (v !== undefined) (o as CoordinatorOptions)[k] = v;
  };
  set('heartbeatSec', num('heartbeat'));
  set('timeoutSec', num('timeout'));
  set('resultTimeoutSec', num('result-timeout'));
  set('waitWorkersSec', num('wait-workers'));
  return o;
}

/** Trains with a coordinator in this process and N local worker processes. */
export async function trainWithWorkers(cfg: TrainConfig, values: Record<string, string | boolean | undefined>): Promise<number> {
  const log = cfg.quiet ? () => {} : (s: string) => console.log(s);
  try {
    // Local workers exchange tensors through shared-memory side files (CRNN_SIDE_FILES=0: the socket).
    const r = await trainDistributed(
      cfg,
      { ...coordinatorOptions(values), workers: cfg.workers, log, sideFiles: process.env.CRNN_SIDE_FILES !== '0', workerOptions: { log: (s) => process.stderr.write(`${s}\n`) } },
      cfg.quiet ? { log: () => {} } : {},
    );
    console.log(JSON.stringify({ out: r.out, epochs: r.epochs, steps: r.steps, accuracy: r.best.accuracy, cer: r.best.cer, ned: r.best.ned, seconds: Math.round(r.seconds), workers: cfg.workers }));
    return 0;
  } catch (e) {
    if (e instanceof NoWorkersError) {
      console.error(`crnn-cli train: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Flags -> config fields; numbers parsed here so zod names the field when one is bad. */
export function trainOverrides(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || k === 'config' || k === 'help' || (COORDINATOR_KEYS as readonly string[]).includes(k)) continue;
    if (k === 'no-augment') o.augment = !v;
    else if (NUMERIC.has(k)) {
      const n = Number(v);
      o[camel(k)] = k === 'clip' && n === 0 ? null : Number.isNaN(n) ? v : n;
    } else o[camel(k)] = v;
  }
  if (o.resume && !o.out) o.out = o.resume;
  return o;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(TRAIN_HELP);
    return 0;
  }
  const cfg = loadTrainConfig(values.config, trainOverrides(values));
  if (cfg.workers >= 1) return trainWithWorkers(cfg, values);
  const r = await train(cfg, cfg.quiet ? { log: () => {} } : {});
  console.log(JSON.stringify({ out: r.out, epochs: r.epochs, steps: r.steps, accuracy: r.best.accuracy, cer: r.best.cer, ned: r.best.ned, seconds: Math.round(r.seconds) }));
  return 0;
}
