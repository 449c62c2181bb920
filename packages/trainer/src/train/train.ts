/**
 * The training loop: data, model, optimizer, schedule, validation each epoch, checkpoints,
 * best-model tracking, early stopping, and the output folder:
 *   OUT/model.safetensors + OUT/model.json   the best model (by validation accuracy, then loss)
 *   OUT/checkpoint/                          the last epoch's full state (for --resume)
 *   OUT/metrics.csv, OUT/curves.png, OUT/errors.png
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrnnError, Rng, Runtime } from '@crnn/core';
import { buildModel, loadSafetensorsInto, saveModel, type Recognizer } from '@crnn/models';
import {
  Charset,
  checkLabels,
  decodeImage,
  defaultAugment,
  defaultPreprocess,
  generateDigitStrings,
  ImageDataset,
  LabelError,
  readSamples,
  splitSamples,
  type Preprocess,
  type Sample,
} from '../data/index.js';
import { MetricsCsv, Progress, renderCurves, renderErrorGrid } from '../report/index.js';
import { loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { chooseRecipe, type Recipe } from './recipe.js';
import { LrSchedule, type ScheduleState } from './schedule.js';
import { makeOptimizer, TrainingSession } from './session.js';
import { LocalExecutor, reduceParts, splitBatch, type StepExecutor, type StepStats } from './micro.js';
import { clipGradNorm } from '@crnn/kernels';

export class TrainingStopped extends CrnnError {}

export interface TrainHooks {
  log?: (line: string) => void;
  warn?: (line: string) => void;
  /** Stop (as if interrupted) after this many completed epochs: for resume tests. */
  stopAfterEpoch?: number;
  /** Progress output stream (default stderr); `tty` overrides detection. */
  tty?: boolean;
  runtime?: Runtime;
  /**
   * Who computes the micro-batch gradients: in-process (default) or the distributed
   * coordinator. The trainer always reduces, clips and applies the optimizer itself.
   */
  executor?: StepExecutor;
  /** Called after every step with its time and statistics (benchmarks). */
  onStep?: (s: { step: number; ms: number; loss: number; applied: boolean; images: number; stats: StepStats }) => void;
}

export interface TrainResult {
  out: string;
  epochs: number;
  steps: number;
  best: { epoch: number; loss: number; cer: number; accuracy: number; ned: number };
  skippedImages: Array<{ path: string; reason: string }>;
  nonFiniteSteps: number;
  stoppedEarly: boolean;
  recipe: Recipe;
  seconds: number;
}

interface Data {
  train: ImageDataset;
  val: ImageDataset;
  charset: Charset;
  preprocess: Preprocess;
  recipe: Recipe;
  source: string;
}

function prepareData(cfg: TrainConfig, warn: (s: string) => void): Data {
  if (!cfg.data && !cfg.labels) {
    // The embedded default: MNIST digit strings of 3 to 8 digits, generated from the seed.
    // 16x80 keeps 3 to 8 MNIST digits legible and the default job within minutes on a CPU.
    const height = cfg.height ?? 16;
    const width = cfg.width ?? 80;
    const items = generateDigitStrings({ count: cfg.generated, seed: cfg.seed, height, width });
    const charset = new Charset(cfg.charset ?? '0123456789');
    const preprocess = { ...defaultPreprocess(height, width) };
    const nVal = Math.max(1, Math.round(items.length * cfg.valRatio));
    const recipe = chooseRecipe({ ...cfg, height, width, epochs: cfg.epochs ?? 8 }, { heights: [height], widths: [width], maxLabel: 8 }, items.length - nVal);
    return {
      train: ImageDataset.fromImages(items.slice(nVal), preprocess, charset),
      val: ImageDataset.fromImages(items.slice(0, nVal), preprocess, charset),
      charset,
      preprocess,
      recipe,
      source: `generated MNIST digit strings (${items.length}, seed ${cfg.seed})`,
    };
  }
  const source = (cfg.data ?? cfg.labels)!;
  let samples = readSamples(source, cfg.caseFold ?? null);
  if (samples.length === 0) throw new CrnnError(`${source}: no image files found`);
  let valSamples: Sample[] | null = cfg.val ? readSamples(cfg.val, cfg.caseFold ?? null) : null;
  const charset = cfg.charset ? new Charset(cfg.charset) : Charset.fromLabels([...samples, ...(valSamples ?? [])].map((s) => s.label));
  const checked = checkLabels(samples, charset, cfg.caseFold ?? null);
  if (checked.bad.length) {
    if (!cfg.skipUnknown) throw new LabelError(checked.bad, charset);
    warn(`skipping ${checked.bad.length} image(s) with characters outside the charset (--skip-unknown)`);
    samples = checked.ok;
  }
  if (valSamples) valSamples = checkLabels(valSamples, charset, cfg.caseFold ?? null).ok;
  // Image statistics for the recipe: sizes of up to 64 images.
  const heights: number[] = [];
  const widths: number[] = [];
  for (const s of samples.slice(0, 64)) {
    try {
      const img = decodeImage(readFileSync(s.path), s.path);
      heights.push(img.height);
      widths.push(img.width);
    } catch {
      /* counted when the data set loads */
    }
  }
  const split = valSamples ? { train: samples, val: valSamples } : splitSamples(samples, cfg.valRatio, cfg.seed);
  const recipe = chooseRecipe(cfg, { heights, widths, maxLabel: Math.max(...samples.map((s) => [...s.label].length)) }, split.train.length);
  const preprocess: Preprocess = {
    ...defaultPreprocess(recipe.height, recipe.width),
    keepAspect: recipe.keepAspect,
    grey: cfg.grey,
    binarize: cfg.binarize,
    caseFold: cfg.caseFold ?? null,
  };
  const train = ImageDataset.load(split.train, preprocess, charset, { onWarning: warn });
  const val = split.val.length ? ImageDataset.load(split.val, preprocess, charset, { onWarning: warn }) : train;
  return { train, val, charset, preprocess, recipe, source };
}

/** What identifies a job, so that --resume refuses to continue a different one. */
function jobOf(cfg: TrainConfig, d: Data, model: Recognizer): Record<string, unknown> {
  return { source: d.source, model: model.info.name, height: d.recipe.height, width: d.recipe.width, charset: d.charset.chars, seed: cfg.seed, batch: cfg.batch, optimizer: cfg.optimizer, microBatches: cfg.microBatches };
}

/** Per-epoch means of the step statistics, for metrics.csv. */
function perStep(s: { n: number; workers: number; step: number; compute: number; comm: number; wait: number; bytes: number; redealt: number }): Record<string, number> {
  const n = Math.max(1, s.n);
  return { workers: s.workers / n, step_s: s.step / n / 1000, compute_s: s.compute / n / 1000, comm_s: s.comm / n / 1000, wait_s: s.wait / n / 1000, bytes_per_step: Math.round(s.bytes / n), redealt: s.redealt };
}

/**
 * One training step with micro-batching (see micro.ts): the executor computes the
 * micro-batch results, the trainer reduces them by the fixed tree, clips, and applies the
 * optimizer, or skips the step (nothing changes) when anything is non-finite.
 */
async function microStep(
  rt: Runtime,
  model: Recognizer,
  session: TrainingSession,
  executor: StepExecutor,
  batch: import('../data/index.js').Batch,
  cfg: TrainConfig,
  step: number,
): Promise<{ loss: number; gradNorm: number; applied: boolean; stats: StepStats; ms: number }> {
  const t0 = performance.now();
  const bufs = model.namedBuffers().map(([, t]) => t);
  const r0 = (await rt.readMany(bufs)) as Float32Array[];
  const tracked0 = model.namedHostState();
  const micro = splitBatch(batch, cfg.microBatches, cfg.seed, step);
  const { parts, stats } = await executor.run(step, micro, r0);
  const tr = performance.now();
  const red = reduceParts(parts, cfg.microBatches);
  const reduceMs = performance.now() - tr;
  const ta = performance.now();
  let applied = false;
  let gradNorm = NaN;
  const params = model.parameters();
  model.zeroGrad();
  if (red.finite) {
    // Into the gradient slots of the packed parameters: the clip and the optimizer then
    // record a few dispatches for all of them (ParamArena).
    const arena = session.packed(params);
    params.forEach((p, i) => {
      const g = red.grads[i];
      if (g) arena.writeGrad(p, g);
    });
    const present = params.filter((p) => p.grad).map((p) => p.grad!);
    const norm = clipGradNorm(rt, present, cfg.clip ?? Infinity);
    const [n] = await rt.readMany([norm]);
    norm.dispose();
    gradNorm = n![0]!;
    if (Number.isFinite(gradNorm)) {
      session.apply();
      applied = true;
    }
  }
  model.zeroGrad();
  // Buffers and BN counters: the reduced ones after an applied step, else as they were.
  bufs.forEach((t, i) => rt.write(t, applied ? red.buffers[i]! : r0[i]!));
  for (const [name, v] of tracked0) model.assignHostState(name, applied ? v + red.count : v);
  if (applied) await rt.sync();
  const applyMs = performance.now() - ta;
  const ms = performance.now() - t0;
  const computeMs = stats.computeMs + applyMs;
  const commMs = stats.commMs + reduceMs;
  const commAllMs = (stats.commAllMs ?? stats.commMs) + reduceMs;
  return { loss: red.loss, gradNorm, applied, ms, stats: { ...stats, computeMs, commMs, commAllMs, waitMs: Math.max(0, ms - computeMs - commMs) } };
}

/**
 * CRNN_PROFILE=FROM-TO (steps, 0-based, TO exclusive; e.g. 2-7): GPU time per kernel over
 * those in-process steps, printed when they are done (Runtime.startProfile). For finding
 * where a step's time goes; each dispatch then runs in a pass of its own.
 */
function profileRange(): { from: number; to: number } | null {
  const m = /^(\d+)-(\d+)$/.exec(process.env.CRNN_PROFILE ?? '');
  if (!m) return null;
  const from = Number(m[1]);
  const to = Number(m[2]);
  return to > from ? { from, to } : null;
}

function printProfile(rows: Array<{ kernel: string; count: number; ms: number }>, r: { from: number; to: number }, log: (s: string) => void): void {
  const steps = r.to - r.from;
  const total = rows.reduce((a, b) => a + b.ms, 0);
  log(`profile: GPU time per step over steps ${r.from}-${r.to - 1}: ${(total / steps).toFixed(1)} ms in ${rows.reduce((a, b) => a + b.count, 0) / steps} dispatches`);
  for (const row of rows) {
    log(`  ${row.kernel.padEnd(40)} ${(row.ms / steps).toFixed(2).padStart(9)} ms ${((100 * row.ms) / (total || 1)).toFixed(1).padStart(5)}%  x${row.count / steps}`);
  }
}

export async function train(cfg: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const profile = profileRange();
  const t0 = performance.now();
  const log = hooks.log ?? ((s: string) => console.log(s));
  const warn = hooks.warn ?? ((s: string) => console.warn(`warning: ${s}`));
  const rt = hooks.runtime ?? (await Runtime.create());
  const out = cfg.out;
  const data = prepareData(cfg, warn);
  const { recipe, charset } = data;
  const model = buildModel(rt, recipe.model, { numClasses: charset.numClasses, height: recipe.height, width: recipe.width, inChannels: 1 }, cfg.seed);
  if (model.info.timeSteps(recipe.width) < 1) throw new CrnnError(`${recipe.model}: width ${recipe.width} is too small for this model`);
  const opt = makeOptimizer(cfg, recipe.lr);
  const session = new TrainingSession(rt, model, opt, cfg.clip);
  const epochs = recipe.epochs;
  const schedule0 = { kind: cfg.schedule, baseLr: recipe.lr, epochs, stepSize: cfg.stepSize, gamma: cfg.gamma, minLr: recipe.minLr, patience: cfg.plateauPatience };
  let schedule = new LrSchedule(schedule0);
  const rng = new Rng(cfg.seed);
  let state: Omit<TrainerState, 'optimizer'> = {
    version: 1,
    epoch: 0,
    globalStep: 0,
    rng: rng.getState(),
    schedule: schedule.state,
    early: { best: null, bestEpoch: -1, bad: 0 },
    history: [],
    nonFinite: { total: 0 },
    job: jobOf(cfg, data, model),
  };
  const ckptDir = join(out, 'checkpoint');
  if (cfg.resume) {
    const loaded = loadCheckpoint(rt, join(cfg.resume, 'checkpoint'), model, opt);
    const mismatch = Object.entries(state.job).filter(([k, v]) => JSON.stringify(loaded.job[k]) !== JSON.stringify(v));
    if (mismatch.length) {
      throw new CrnnError(`--resume ${cfg.resume}: the checkpoint is of another job (${mismatch.map(([k, v]) => `${k}: ${JSON.stringify(loaded.job[k])} there, ${JSON.stringify(v)} now`).join('; ')})`);
    }
    const { optimizer: _o, ...rest } = loaded;
    state = rest;
    rng.setState(state.rng as never);
    schedule = new LrSchedule(schedule0, state.schedule as ScheduleState);
    opt.lr = schedule.lr;
    log(`resumed from ${cfg.resume} after epoch ${state.epoch} (step ${state.globalStep})`);
  }
  const csv = new MetricsCsv(join(out, 'metrics.csv'), ['epoch', 'step', 'lr', 'train_loss', 'val_loss', 'cer', 'accuracy', 'ned', 'images_per_s', 'skipped_steps', 'seconds', 'workers', 'step_s', 'compute_s', 'comm_s', 'wait_s', 'bytes_per_step', 'redealt']);
  csv.truncateAfterEpoch(state.epoch);
  log(`data: ${data.source}: ${data.train.size} train / ${data.val.size} val images, ${charset.chars.length} characters, ${data.train.skipped.length + (data.val === data.train ? 0 : data.val.skipped.length)} skipped`);
  log(`model: ${model.info.name} (${model.parameterCount().toLocaleString('en-US')} parameters), input 1x${recipe.height}x${recipe.width}, T=${model.info.timeSteps(recipe.width)}; ${cfg.optimizer} lr ${recipe.lr} ${cfg.schedule}; ${epochs} epochs, batch ${cfg.batch}; adapter ${rt.adapterName}`);
  const executor: StepExecutor = hooks.executor ?? new LocalExecutor();
  await executor.attach({
    rt,
    model,
    modelName: recipe.model,
    hyper: { numClasses: charset.numClasses, inChannels: 1, height: recipe.height, width: recipe.width },
    seed: cfg.seed,
    batch: cfg.batch,
    microBatches: cfg.microBatches,
    log,
    warn,
  });
  const augment = cfg.augment ? defaultAugment() : null;
  let stoppedEarly = false;
  let consecutiveBad = 0;
  const stepsPerEpoch = Math.ceil(data.train.size / cfg.batch);
  const maxSteps = cfg.maxSteps ?? Infinity;

  let endReason = 'training finished';
  try {
    for (let epoch = state.epoch; epoch < epochs && state.globalStep < maxSteps; epoch++) {
      const te = performance.now();
      // Every random choice of the epoch comes from (seed, epoch): order, augmentation, masks.
      const er = new Rng(`${cfg.seed}:epoch:${epoch}`);
      const progress = new Progress({ total: stepsPerEpoch, label: `epoch ${epoch + 1}/${epochs}`, ...(hooks.tty !== undefined ? { tty: hooks.tty } : {}) });
      let lossSum = 0;
      let lossN = 0;
      let images = 0;
      let skippedSteps = 0;
      let done = 0;
      const sums = { n: 0, workers: 0, step: 0, compute: 0, comm: 0, wait: 0, bytes: 0, redealt: 0 };
      for (const batch of data.train.batches(cfg.batch, { shuffle: er, augment: augment ? { rng: er.fork(), a: augment } : null })) {
        if (state.globalStep >= maxSteps) break;
        if (profile && state.globalStep === profile.from) rt.startProfile();
        const r = await microStep(rt, model, session, executor, batch, cfg, state.globalStep);
        if (profile && state.globalStep + 1 === profile.to) printProfile(await rt.stopProfile(), profile, log);
        const st = r.stats;
        sums.n++;
        sums.workers += st.workers;
        sums.step += r.ms;
        sums.compute += st.computeMs;
        sums.comm += st.commMs;
        sums.wait += st.waitMs;
        sums.bytes += st.bytes;
        sums.redealt += st.redealt;
        hooks.onStep?.({ step: state.globalStep, ms: r.ms, loss: r.loss, applied: r.applied, images: batch.texts.length, stats: st });
        state.globalStep++;
        done++;
        images += batch.texts.length;
        if (r.applied) {
          consecutiveBad = 0;
          lossSum += r.loss;
          lossN++;
        } else {
          skippedSteps++;
          state.nonFinite.total++;
          consecutiveBad++;
          warn(`step ${state.globalStep}: non-finite ${Number.isFinite(r.loss) ? 'gradient' : 'loss'} (${r.loss}); update skipped. Batch: ${batch.paths.join(', ')}`);
          if (consecutiveBad >= cfg.maxNonFinite) {
            throw new TrainingStopped(`${consecutiveBad} consecutive non-finite steps: training stopped. The last good checkpoint is in ${ckptDir}, the best model in ${out}. Try a lower --lr or --clip.`);
          }
        }
        const secs = (performance.now() - te) / 1000;
        const stepStats: Record<string, string> = { loss: lossN ? (lossSum / lossN).toFixed(4) : 'nan', 'img/s': (images / secs).toFixed(1) };
        if (hooks.executor) {
          Object.assign(stepStats, { workers: String(st.workers), compute: `${(st.computeMs / 1000).toFixed(2)}s`, comm: `${(st.commMs / 1000).toFixed(2)}s`, wait: `${(st.waitMs / 1000).toFixed(2)}s`, MB: (st.bytes / 1e6).toFixed(1) });
        }
        progress.update(done, stepStats);
        executor.progress?.({ epoch: epoch + 1, epochs, step: state.globalStep, loss: lossN ? lossSum / lossN : NaN, imagesPerS: images / secs, stepInEpoch: done, stepsPerEpoch });
      }
      const trainLoss = lossN ? lossSum / lossN : NaN;
      const ev = await session.evaluate(data.val.batches(cfg.batch * 2, { shuffle: null }), charset);
      const seconds = (performance.now() - te) / 1000;
      progress.finish({ loss: trainLoss.toFixed(4), val_loss: ev.loss.toFixed(4), cer: ev.metrics.cer.toFixed(4), acc: ev.metrics.accuracy.toFixed(4), 'img/s': (images / seconds).toFixed(1) });
      const row = { epoch: epoch + 1, step: state.globalStep, lr: opt.lr, train_loss: trainLoss, val_loss: ev.loss, cer: ev.metrics.cer, accuracy: ev.metrics.accuracy, ned: ev.metrics.ned, images_per_s: images / seconds, skipped_steps: skippedSteps, seconds, ...perStep(sums) };
      state.history.push(row);
      csv.append(row);
      renderCurves(join(out, 'curves.png'), [
        { name: 'train loss', values: state.history.map((h) => [h.epoch!, h.train_loss!]), axis: 'left' },
        { name: 'val loss', values: state.history.map((h) => [h.epoch!, h.val_loss!]), axis: 'left' },
        { name: 'CER', values: state.history.map((h) => [h.epoch!, h.cer!]), axis: 'right' },
        { name: 'accuracy', values: state.history.map((h) => [h.epoch!, h.accuracy!]), axis: 'right' },
      ], { title: `${model.info.name} on ${data.source}`, xLabel: 'epoch' });
      // Best model: highest accuracy, then lowest validation loss. (Metric to minimise below.)
      const score = -ev.metrics.accuracy * 1e6 + (Number.isFinite(ev.loss) ? ev.loss : 1e6);
      if (state.early.best === null || score < state.early.best) {
        state.early = { best: score, bestEpoch: epoch + 1, bad: 0 };
        await saveModel(rt, model, out, { hyper: { numClasses: charset.numClasses, height: recipe.height, width: recipe.width, inChannels: 1 }, charset: charset.chars, blank: 0, preprocessing: { ...data.preprocess } });
      } else {
        state.early.bad++;
      }
      opt.lr = schedule.step(Number.isFinite(ev.loss) ? ev.loss : Infinity);
      state.schedule = schedule.state;
      state.epoch = epoch + 1;
      state.rng = rng.getState();
      await saveCheckpoint(rt, ckptDir, model, opt, state);
      if (cfg.patience !== null && state.early.bad >= cfg.patience) {
        log(`early stopping: no improvement for ${cfg.patience} epochs; restoring the best weights (epoch ${state.early.bestEpoch})`);
        loadSafetensorsInto(rt, model, join(out, 'model.safetensors'));
        stoppedEarly = true;
        break;
      }
      if (hooks.stopAfterEpoch !== undefined && state.epoch >= hooks.stopAfterEpoch) break;
    }

  } catch (e) {
    endReason = `training stopped: ${e instanceof Error ? e.message : String(e)}`;
    throw e;
  } finally {
    await executor.finish(endReason);
  }

  // Errors grid of the best model on the validation set.
  const bestRow = state.history.find((h) => h.epoch === state.early.bestEpoch) ?? state.history[state.history.length - 1];
  if (existsSync(join(out, 'model.safetensors')) && cfg.errorGrid > 0) {
    const best = buildModel(rt, recipe.model, { numClasses: charset.numClasses, height: recipe.height, width: recipe.width, inChannels: 1 }, cfg.seed);
    loadSafetensorsInto(rt, best, join(out, 'model.safetensors'));
    const ev = await new TrainingSession(rt, best, opt, null).evaluate(data.val.batches(cfg.batch * 2, { shuffle: null }), charset, cfg.errorGrid);
    renderErrorGrid(
      join(out, 'errors.png'),
      ev.wrong.map((w) => ({ image: data.val.item(w.index).image, height: recipe.height, width: recipe.width, pred: w.pred, truth: w.truth })),
      { title: `wrong validation predictions (${ev.wrong.length} shown)` },
    );
    best.dispose();
  }
  const skippedImages = [...data.train.skipped, ...(data.val === data.train ? [] : data.val.skipped)];
  const result: TrainResult = {
    out,
    epochs: state.epoch,
    steps: state.globalStep,
    best: { epoch: state.early.bestEpoch, loss: bestRow?.val_loss ?? NaN, cer: bestRow?.cer ?? NaN, accuracy: bestRow?.accuracy ?? NaN, ned: bestRow?.ned ?? NaN },
    skippedImages,
    nonFiniteSteps: state.nonFinite.total,
    stoppedEarly,
    recipe,
    seconds: (performance.now() - t0) / 1000,
  };
  log(`done: ${result.epochs} epochs, ${result.steps} steps in ${result.seconds.toFixed(1)} s; best epoch ${result.best.epoch}: accuracy ${(result.best.accuracy * 100).toFixed(2)}%, CER ${(result.best.cer * 100).toFixed(2)}%, 1-NED ${result.best.ned.toFixed(4)}; model in ${out}`);
  if (skippedImages.length) log(`skipped ${skippedImages.length} unreadable image(s):\n  ${skippedImages.map((s) => `${s.path}: ${s.reason}`).join('\n  ')}`);
  if (result.nonFiniteSteps) log(`${result.nonFiniteSteps} step(s) skipped for non-finite loss or gradients`);
  opt.dispose();
  session.dispose();
  model.dispose();
  if (!hooks.runtime) rt.destroy();
  return result;
}
