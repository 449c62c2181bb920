/**
 * Saving and loading weights: `model.safetensors` (PyTorch state_dict names, F32, plus
 * BatchNorm's num_batches_tracked as I64 like torch) and `model.json` beside it (zoo name,
 * hyper-parameters, input size, charset, blank index, preprocessing). A state_dict saved in
 * the seed notebook with `safetensors.torch.save_file(model.state_dict(), path)` loads here.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CrnnError, type Runtime } from '@crnn/core';
import type { Recognizer } from './crnn.js';
import type { Module } from './module.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type SafeTensor } from './safetensors.js';
import { buildModel, type ModelHyper } from './zoo.js';

export interface ModelConfig {
  format: 'crnn-webgpu/1';
  model: string;
  hyper: ModelHyper;
  input: { channels: number; height: number; width: number };
  /** Class i (i >= 1 for CTC models) is charset[i - 1]; class 0 is the blank. */
  charset: string;
  blank: number;
  /** How images were prepared (recorded by the trainer, repeated by prediction). */
  preprocessing: Record<string, unknown>;
}

/** Every mismatch between a file and a model, reported at once. */
export class WeightsMismatchError extends CrnnError {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} mismatch(es) with the model:\n  ${problems.join('\n  ')}`);
  }
}

/** Host copies of a module's state (parameters, buffers, counters) as safetensors entries. */
export async function stateTensors(rt: Runtime, m: Module): Promise<Array<[string, SafeTensor]>> {
  const sd = m.stateDict();
  const data = await rt.readMany(sd.map(([, t]) => t));
  const out: Array<[string, SafeTensor]> = sd.map(([n, t], i) => [n, { dtype: 'F32', shape: [...t.shape], data: data[i] as Float32Array }]);
  for (const [n, v] of m.namedHostState()) out.push([n, { dtype: 'I64', shape: [], data: Float64Array.of(v) }]);
  return out;
}

export function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export async function saveSafetensors(rt: Runtime, m: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  writeAtomic(path, encodeSafetensors(await stateTensors(rt, m), metadata));
}

/**
 * Loads a state dict into a module: checks every name, shape and dtype first and reports all
 * mismatches together; uploads only when everything fits (the module is unchanged on error).
 */
export function loadStateInto(rt: Runtime, m: Module, tensors: Map<string, SafeTensor>, file: string): void {
  const problems: string[] = [];
  const expected = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
  const hostNames = new Set(m.namedHostState().map(([n]) => n));
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) problems.push(`missing '${name}' [${shape.join(', ')}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`'${name}': shape [${t.shape.join(', ')}] in the file, [${shape.join(', ')}] in the model`);
    } else if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) problems.push(`'${name}': dtype ${t.dtype}, expected a float type`);
  }
  for (const [name, t] of tensors) {
    if (expected.has(name)) continue;
    if (hostNames.has(name)) {
      if (t.shape.length !== 0 && !(t.shape.length === 1 && t.shape[0] === 1)) problems.push(`'${name}': shape [${t.shape}], expected a scalar`);
      continue;
    }
    problems.push(`unexpected '${name}' [${t.shape.join(', ')}] (${t.dtype}) in the file`);
  }
  if (problems.length) throw new WeightsMismatchError(file, problems);
  for (const [name] of expected) {
    const t = tensors.get(name)!;
    m.assign(name, rt.upload(t.data, t.shape));
  }
  for (const name of hostNames) {
    const t = tensors.get(name);
    if (t) m.assignHostState(name, t.data[0]!);
  }
}

export function loadSafetensorsInto(rt: Runtime, m: Module, path: string): Record<string, string> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read it (${e instanceof Error ? e.message : String(e)})`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  loadStateInto(rt, m, tensors, path);
  return metadata;
}

/** Writes model.safetensors and model.json into `dir` (each atomically). */
export async function saveModel(rt: Runtime, model: Recognizer, dir: string, cfg: Omit<ModelConfig, 'format' | 'model' | 'input'> & { input?: ModelConfig['input'] }): Promise<void> {
  const config: ModelConfig = {
    format: 'crnn-webgpu/1',
    model: model.info.name,
    hyper: cfg.hyper,
    input: cfg.input ?? { channels: model.info.inChannels, height: model.info.height, width: model.info.width },
    charset: cfg.charset,
    blank: cfg.blank,
    preprocessing: cfg.preprocessing,
  };
  await saveSafetensors(rt, model, join(dir, 'model.safetensors'), { format: 'pt', model: model.info.name });
  writeAtomic(join(dir, 'model.json'), `${JSON.stringify(config, null, 2)}\n`);
}

export function readModelConfig(dir: string): ModelConfig {
  const path = join(dir, 'model.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CrnnError(`${path}: cannot read the model config (${e instanceof Error ? e.message : String(e)})`);
  }
  const c = raw as Partial<ModelConfig>;
  if (c.format !== 'crnn-webgpu/1' || typeof c.model !== 'string' || typeof c.charset !== 'string' || !c.hyper) {
    throw new CrnnError(`${path}: not a crnn-webgpu model config (needs format 'crnn-webgpu/1', model, hyper, charset)`);
  }
  return c as ModelConfig;
}

/** Builds the model named in dir/model.json and loads dir/model.safetensors into it. */
export function loadModel(rt: Runtime, dir: string): { model: Recognizer; config: ModelConfig } {
  const config = readModelConfig(dir);
  const model = buildModel(rt, config.model, config.hyper);
  try {
    loadSafetensorsInto(rt, model, join(dir, 'model.safetensors'));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, config };
}
