/**
 * `train --workers N` on one machine: a coordinator on 127.0.0.1 with a random token and N
 * worker processes (child processes of this one, the token passed in their environment).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { train, type TrainHooks, type TrainResult } from '../train/train.js';
import type { TrainConfig } from '../train/config.js';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';
import { SideFiles } from './side-files.js';

/** The compiled worker entry (also when this module runs from src/ under vitest). */
export function workerEntry(): string {
  const here = fileURLToPath(new URL('./worker-main.js', import.meta.url));
  if (existsSync(here)) return here;
  const dist = here.replace(/[\\/]src[\\/]distributed[\\/]worker-main\.js$/, '/dist/distributed/worker-main.js');
  if (existsSync(dist)) return dist;
  throw new Error(`worker entry not found (${here}, ${dist}): build @crnn/trainer first`);
}

export interface LocalWorkerOptions {
  /** Extra environment per worker (index -> env), e.g. fault injection in tests. */
  env?: (i: number) => Record<string, string>;
  /** Where worker output lines go (default: stderr, prefixed). */
  log?: (line: string) => void;
  retryForSec?: number;
  /** Extra worker flags (e.g. ['--ca', 'cert.pem'] for wss). */
  args?: string[];
}

/** Starts N worker processes connecting to `url`. */
export function spawnLocalWorkers(n: number, url: string, token: string, o: LocalWorkerOptions = {}): ChildProcess[] {
  const entry = workerEntry();
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const kids: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const child = fork(entry, ['--connect', url, '--name', `local-${i}`, '--retry-for', String(o.retryForSec ?? 30), ...(o.args ?? [])], {
      env: { ...process.env, CRNN_TOKEN: token, ...(o.env?.(i) ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const forward = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) if (line.trim()) log(`[worker ${i}] ${line}`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    kids.push(child);
  }
  return kids;
}

/** Ends worker processes that are still running (they normally exit on the coordinator's BYE). */
export async function stopLocalWorkers(kids: ChildProcess[], graceMs = 5000): Promise<void> {
  await Promise.all(
    kids.map(
      (k) =>
        new Promise<void>((resolve) => {
          if (k.exitCode !== null || k.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            k.kill('SIGKILL');
          }, graceMs);
          k.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
}

export interface DistributedOptions extends Omit<CoordinatorOptions, 'token' | 'sideDir'> {
  token?: string;
  /**
   * Pass STATE and RESULT tensor bytes through side files in shared memory instead of the
   * loopback socket (side-files.ts). Default true.
   */
  sideFiles?: boolean;
  workers: number;
  workerOptions?: LocalWorkerOptions;
}

/** Trains with a coordinator in this process and `workers` local worker processes. */
export async function trainDistributed(cfg: TrainConfig, d: DistributedOptions, hooks: TrainHooks = {}): Promise<TrainResult & { coordinator: Coordinator }> {
  const token = d.token ?? randomBytes(24).toString('hex');
  const side = d.sideFiles === false ? null : SideFiles.create();
  try {
    const coordinator = new Coordinator({ ...d, token, host: d.host ?? '127.0.0.1', port: d.port ?? 0, log: d.log ?? hooks.log, warn: d.warn ?? hooks.warn, ...(side ? { sideDir: side.dir } : {}) });
    const url = await coordinator.listen();
    const env = d.workerOptions?.env;
    const kids = spawnLocalWorkers(d.workers, url, token, { ...d.workerOptions, env: (i) => ({ ...(side ? { CRNN_SHM_DIR: side.dir } : {}), ...(env?.(i) ?? {}) }) });
    try {
      const r = await train(cfg, { ...hooks, executor: coordinator });
      return { ...r, coordinator };
    } finally {
      await coordinator.finish('training finished');
      await stopLocalWorkers(kids);
    }
  } finally {
    side?.dispose();
  }
}
