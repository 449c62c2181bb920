/**
 * Training configuration: one zod schema for CLI flags and `--config FILE` alike, so an
 * invalid field is reported by name. Every field has a default that works with no flags.
 */
import { readFileSync } from 'node:fs';
import { CrnnError } from '@crnn/core';
import { z } from 'zod';

export const TrainConfigSchema = z
  .object({
    /** A folder of images named by their label. */
    data: z.string().min(1).optional(),
    /** A PaddleOCR label file (path<TAB>label). */
    labels: z.string().min(1).optional(),
    /** Validation folder or label file; otherwise a seeded split of the training data. */
    val: z.string().min(1).optional(),
    valRatio: z.number().min(0).max(0.9).default(0.2),
    /** A zoo model name, or 'auto' to choose from the data. */
    model: z.string().default('auto'),
    height: z.number().int().positive().optional(),
    width: z.number().int().positive().optional(),
    epochs: z.number().int().positive().optional(),
    maxSteps: z.number().int().positive().optional(),
    batch: z.number().int().positive().default(16),
    seed: z.number().int().nonnegative().default(0),
    lr: z.number().positive().optional(),
    optimizer: z.enum(['adam', 'adadelta', 'sgd']).default('adam'),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).default(0),
    /** Global gradient-norm clip; null disables. */
    clip: z.number().positive().nullable().default(5),
    schedule: z.enum(['constant', 'step', 'cosine', 'plateau']).default('cosine'),
    stepSize: z.number().int().positive().default(10),
    gamma: z.number().positive().max(1).default(0.5),
    minLr: z.number().min(0).default(0),
    plateauPatience: z.number().int().positive().default(3),
    /** Early stopping: epochs without improvement of the validation metric; null disables. */
    patience: z.number().int().positive().nullable().default(null),
    augment: z.boolean().default(true),
    grey: z.enum(['luminance', 'alpha']).default('luminance'),
    binarize: z.number().min(0).max(1).nullable().default(null),
    caseFold: z.enum(['lower', 'upper']).nullable().optional(),
    keepAspect: z.boolean().optional(),
    /** The character set; found from the labels when absent. */
    charset: z.string().min(1).optional(),
    /** Skip samples whose labels have characters outside the charset instead of failing. */
    skipUnknown: z.boolean().default(false),
    out: z.string().min(1).default('runs/latest'),
    resume: z.string().min(1).optional(),
    workers: z.number().int().min(0).default(0),
    /**
     * Micro-batches per global batch: gradients are computed per micro-batch (BatchNorm
     * statistics per micro-batch) and reduced by a fixed tree over the micro-batch indices, in-process or across
     * workers alike, so the result does not depend on the number of workers.
     */
    microBatches: z.number().int().positive().max(1024).default(4),
    /** Size of the embedded default data set (MNIST digit strings) when no data is given. */
    generated: z.number().int().positive().default(3000),
    /** Consecutive non-finite steps that stop training. */
    maxNonFinite: z.number().int().positive().default(20),
    /** Validation images drawn in errors.png. */
    errorGrid: z.number().int().min(0).default(32),
    quiet: z.boolean().default(false),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export class ConfigError extends CrnnError {}

function describe(err: z.ZodError, where: string): string {
  return err.issues
    .map((i) => `${where}: field '${i.path.join('.') || '(root)'}': ${i.message}`)
    .join('; ');
}

/** Validates a config object (from flags, a file, or both merged). */
export function parseTrainConfig(input: unknown, where = 'train config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(describe(r.error, where));
  if (r.data.data && r.data.labels) throw new ConfigError(`${where}: give either 'data' (a folder) or 'labels' (a label file), not both`);
  // Micro-batching defaults to 4 with workers (the count must not depend on how many) and to 1
  // in-process, where one pass per batch is ~1.5x faster. Pass the same --micro-batches to
  // compare an in-process run with a distributed one bit for bit.
  const given = typeof input === 'object' && input !== null && (input as { microBatches?: unknown }).microBatches !== undefined;
  if (!given && r.data.workers < 1) return { ...r.data, microBatches: 1 };
  return r.data;
}

/** Reads a JSON config file; its fields are overridden by `overrides` (the CLI flags). */
export function loadTrainConfig(file: string | undefined, overrides: Record<string, unknown>): TrainConfig {
  let base: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${file}: cannot read the config (${e instanceof Error ? e.message : String(e)})`);
    }
    try {
      base = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (base === null || typeof base !== 'object' || Array.isArray(base)) throw new ConfigError(`${file}: expected a JSON object`);
  }
  return parseTrainConfig({ ...base, ...overrides }, file ?? 'train config');
}
