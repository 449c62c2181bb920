/**
 * `npm run bench -- distributed [--models crnn-tiny,crnn] [--workers 1,2,4] [--steps N]
 * [--batch B] [--micro-batches M] [--socket] [--json]`: step time of data-parallel training on this
 * machine at 1, 2 and 4 local workers, split into compute / communication / wait, with the
 * bytes moved per step, next to in-process training of the same micro-batching.
 *
 * Definitions (per step, from the coordinator; the first step, which compiles the pipelines,
 * is left out of the means):
 *   compute = the critical worker's forward+backward+readback time, plus the coordinator's
 *             clip + optimizer step;
 *   comm    = everything that moves or reduces tensors on the critical path: reading the
 *             weights back and encoding them, transfer and (de)serialization both ways, the
 *             ordered host reduction;
 *   comm-all = all host time spent on communication, including reading and checking the
 *             results of workers that finished while the critical one still computed;
 *   wait    = the rest of the step (batch preparation, idle time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Runtime } from '@crnn/core';
import { parseTrainConfig } from '../train/config.js';
import { train } from '../train/train.js';
import type { StepStats } from '../train/micro.js';
import { trainDistributed } from './local.js';

interface Row {
  model: string;
  workers: number | 'in-process';
  batch: number;
  microBatches: number;
  steps: number;
  stepMs: number;
  computeMs: number;
  commMs: number;
  /** All host time on communication, overlapped with other workers' compute or not. */
  commAllMs: number;
  waitMs: number;
  commShare: number;
  bytesPerStep: number;
  imagesPerS: number;
}

const SIZES: Record<string, { height: number; width: number }> = {
  'crnn-tiny': { height: 8, width: 72 },
  crnn: { height: 32, width: 100 },
  'captcha-keras': { height: 32, width: 160 },
};

async function measure(rt: Runtime, model: string, workers: number, batch: number, microBatches: number, steps: number, sideFiles: boolean): Promise<Row> {
  const out = mkdtempSync(join(tmpdir(), 'crnn-bench-dist-'));
  const size = SIZES[model] ?? { height: 32, width: 100 };
  const cfg = parseTrainConfig({
    model,
    ...size,
    batch,
    microBatches,
    generated: batch * (steps + 1) + 2,
    valRatio: 0.01,
    epochs: 1,
    maxSteps: steps + 1,
    augment: false,
    errorGrid: 0,
    quiet: true,
    out,
  });
  const seen: Array<{ ms: number; stats: StepStats; images: number }> = [];
  const hooks = { log: () => {}, warn: (s: string) => process.stderr.write(`${s}\n`), tty: false, runtime: rt, onStep: (s: { ms: number; stats: StepStats; images: number }) => void seen.push(s) };
  const progress = process.stderr;
  const oldWrite = progress.write.bind(progress);
  // The trainer's progress lines would interleave with the table: silence them.
  progress.write = ((chunk: unknown, ...rest: unknown[]) => (typeof chunk === 'string' && chunk.startsWith('epoch ') ? true : oldWrite(chunk as string, ...(rest as []))) ) as typeof progress.write;
  try {
    if (workers === 0) await train(cfg, hooks);
    else await trainDistributed(cfg, { workers, heartbeatSec: 2, timeoutSec: 120, sideFiles, workerOptions: { log: () => {} } }, hooks);
  } finally {
    progress.write = oldWrite;
    rmSync(out, { recursive: true, force: true });
  }
  const timed = seen.slice(1);
  const mean = (f: (s: (typeof timed)[number]) => number) => timed.reduce((a, s) => a + f(s), 0) / Math.max(1, timed.length);
  const stepMs = mean((s) => s.ms);
  const commMs = mean((s) => s.stats.commMs);
  return {
    model,
    workers: workers === 0 ? 'in-process' : workers,
    batch,
    microBatches,
    steps: timed.length,
    stepMs,
    computeMs: mean((s) => s.stats.computeMs),
    commMs,
    commAllMs: mean((s) => s.stats.commAllMs ?? s.stats.commMs),
    waitMs: mean((s) => s.stats.waitMs),
    commShare: commMs / stepMs,
    bytesPerStep: mean((s) => s.stats.bytes),
    imagesPerS: (mean((s) => s.images) / stepMs) * 1000,
  };
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== 'distributed'),
    options: {
      models: { type: 'string', default: 'crnn-tiny,crnn' },
      workers: { type: 'string', default: '1,2,4' },
      steps: { type: 'string', default: '3' },
      batch: { type: 'string' },
      'micro-batches': { type: 'string', default: '4' },
      json: { type: 'boolean' },
      socket: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench -- distributed [--models crnn-tiny,crnn] [--workers 1,2,4] [--steps 3] [--batch B] [--micro-batches 4] [--socket] [--json]\n  --socket: tensors over the loopback socket only (no shared-memory side files), as remote workers\n');
    return 0;
  }
  const rt = await Runtime.create();
  const steps = Number(values.steps);
  const M = Number(values['micro-batches']);
  const workerCounts = values.workers!.split(',').map(Number);
  process.stderr.write(`adapter: ${rt.adapterName}; ${steps} timed steps after one warm-up step; micro-batches ${M}; ${values.socket ? 'tensors over the socket' : 'tensors through shared-memory side files'}\n`);
  if (!values.json) {
    process.stdout.write(`${'model'.padEnd(10)} ${'workers'.padEnd(10)} ${'batch'.padStart(5)} ${'step'.padStart(9)} ${'compute'.padStart(9)} ${'comm'.padStart(9)} ${'comm-all'.padStart(9)} ${'wait'.padStart(9)} ${'comm %'.padStart(7)} ${'MB/step'.padStart(8)} ${'img/s'.padStart(7)}\n`);
  }
  for (const model of values.models!.split(',')) {
    const batch = Number(values.batch ?? 16);
    for (const w of [0, ...workerCounts]) {
      const r = await measure(rt, model, w, batch, M, steps, !values.socket);
      if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        process.stdout.write(
          `${r.model.padEnd(10)} ${String(r.workers).padEnd(10)} ${String(r.batch).padStart(5)} ${fmt(r.stepMs).padStart(9)} ${fmt(r.computeMs).padStart(9)} ${fmt(r.commMs).padStart(9)} ${fmt(r.commAllMs).padStart(9)} ${fmt(r.waitMs).padStart(9)} ${`${(r.commShare * 100).toFixed(1)}%`.padStart(7)} ${(r.bytesPerStep / 1e6).toFixed(1).padStart(8)} ${r.imagesPerS.toFixed(1).padStart(7)}\n`,
        );
      }
    }
  }
  rt.destroy();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench distributed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
