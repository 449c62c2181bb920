/**
 * Checkpoints, written atomically: the whole folder is built under a temporary name and
 * swapped in with renames, so a crash leaves either the previous checkpoint or the new one,
 * never a mix. Contents: model.safetensors (parameters, BN running stats and counters),
 * optimizer.safetensors (its state tensors) and trainer.json (epoch, step, RNG state,
 * schedule state, early-stopping state, history, optimizer kind/step/hyper-parameters).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CrnnError, type Runtime } from '@crnn/core';
import type { Optimizer } from '@crnn/kernels';
import { decodeSafetensors, encodeSafetensors, loadStateInto, stateTensors, type Module, type SafeTensor } from '@crnn/models';

export class CheckpointError extends CrnnError {}

export interface TrainerState {
  version: 1;
  /** Epochs completed. */
  epoch: number;
  globalStep: number;
  rng: unknown;
  schedule: unknown;
  early: { best: number | null; bestEpoch: number; bad: number };
  history: Array<Record<string, number>>;
  nonFinite: { total: number };
  optimizer: { kind: string; step: number; hyper: Record<string, number | boolean> };
  /** What the run was started with: a resume checks that it continues the same job. */
  job: Record<string, unknown>;
}

/** Writes `dir` atomically: build in a sibling temp folder, then swap by rename. */
export function writeFolderAtomic(dir: string, files: Record<string, Uint8Array | string>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
  const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** The checkpoint folder to resume from: `dir` itself or, after a crash mid-swap, its .old copy. */
function findCheckpoint(dir: string): string {
  if (existsSync(join(dir, 'trainer.json'))) return dir;
  const parent = dirname(dir);
  if (existsSync(parent)) {
    const old = readdirSync(parent).find((n) => n.startsWith(`.${basename(dir)}.old-`));
    if (old && existsSync(join(parent, old, 'trainer.json'))) return join(parent, old);
  }
  throw new CheckpointError(`${dir}: no checkpoint here (expected trainer.json, model.safetensors, optimizer.safetensors)`);
}

export async function saveCheckpoint(rt: Runtime, dir: string, model: Module, opt: Optimizer, state: Omit<TrainerState, 'optimizer'>): Promise<void> {
  const sd = opt.stateDict();
  const host = await rt.readMany(sd.tensors.map((t) => t.tensor));
  const optTensors: Array<[string, SafeTensor]> = sd.tensors.map((t, i) => [`${t.param}.${t.name}`, { dtype: 'F32', shape: [...t.shape], data: host[i] as Float32Array }]);
  const full: TrainerState = { ...state, optimizer: { kind: sd.kind, step: sd.step, hyper: sd.hyper } };
  writeFolderAtomic(dir, {
    'model.safetensors': encodeSafetensors(await stateTensors(rt, model), { format: 'pt' }),
    'optimizer.safetensors': encodeSafetensors(optTensors),
    'trainer.json': `${JSON.stringify(full, null, 1)}\n`,
  });
}

/** Restores model and optimizer from a checkpoint folder; returns the trainer state. */
export function loadCheckpoint(rt: Runtime, dir: string, model: Module, opt: Optimizer): TrainerState {
  const at = findCheckpoint(dir);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(join(at, 'trainer.json'), 'utf8')) as TrainerState;
  } catch (e) {
    throw new CheckpointError(`${join(at, 'trainer.json')}: unreadable (${e instanceof Error ? e.message : String(e)})`);
  }
  if (state.version !== 1) throw new CheckpointError(`${join(at, 'trainer.json')}: unknown checkpoint version ${String(state.version)}`);
  const m = decodeSafetensors(readFileSync(join(at, 'model.safetensors')), join(at, 'model.safetensors'));
  loadStateInto(rt, model, m.tensors, join(at, 'model.safetensors'));
  const o = decodeSafetensors(readFileSync(join(at, 'optimizer.safetensors')), join(at, 'optimizer.safetensors'));
  opt.loadStateDict(rt, {
    kind: state.optimizer.kind as never,
    step: state.optimizer.step,
    hyper: state.optimizer.hyper,
    tensors: [...o.tensors].map(([key, t]) => {
      const dot = key.indexOf('.');
      return { param: Number(key.slice(0, dot)), name: key.slice(dot + 1), shape: t.shape, data: t.data };
    }),
  });
  return state;
}
