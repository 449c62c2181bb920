/**
 * A worker: connects to the coordinator, authenticates (HELLO with the shared token), builds
 * the model it is told to (WELCOME), and then, step after step, loads the weights it is sent
 * (STATE) and computes the gradients of the micro-batches it is dealt (WORK), one RESULT per
 * micro-batch. It keeps no training state of its own, so it can join or leave at any time.
 *
 * It reconnects by itself with exponential backoff (0.25 s doubling to 5 s) for `retryForSec`
 * after losing the coordinator (a coordinator restarted with --resume finds its workers
 * again), and exits when the coordinator says BYE. A coordinator that stops answering pings
 * for the announced timeout is treated as lost. Every coordinator message is validated like
 * the coordinator validates the worker's; a malformed one closes the connection with a reason.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Runtime } from '@crnn/core';
import { buildModel, type Recognizer } from '@crnn/models';
import { WebSocket } from 'ws';
import { combineParts, computeMicro, leafPart, type MicroBatch, type Part } from '../train/micro.js';
import {
  checkState,
  checkWork,
  decodeFrame,
  encodeFrame,
  encodeFrameChunks,
  encodeSideFrame,
  sendChunks,
  expectStep,
  expectType,
  MsgType,
  parseMeta,
  ProtocolError,
  typeName,
  WelcomeMeta,
  ByeMeta,
  type ModelSpec,
  type WorkUnit,
} from './protocol.js';
import { isStateFile, resultFile, SideFiles } from './side-files.js';

/** How much longer the 'slow@S' fault makes a result take (ms). */
const SLOW_FAULT_MS = 2000;
/** Faults that act on the process when work of their step arrives (the others on a result). */
const PROCESS_FAULTS = new Set(['exit', 'kill', 'stop']);

export interface WorkerOptions {
  /** ws://HOST:PORT or wss://HOST:PORT */
  url: string;
  token: string;
  name?: string;
  /** Keep trying to (re)connect for this many seconds after the last good connection. Default 120. */
  retryForSec?: number;
  /** wss: a CA certificate (PEM file) to trust, or skip verification (tests only). */
  ca?: string;
  insecure?: boolean;
  /** Bound on any coordinator frame before WELCOME announces the real one. Default 1 GiB. */
  maxPayload?: number;
  log?: (s: string) => void;
  runtime?: Runtime;
  /**
   * The side-file directory of the coordinator that started this worker (`CRNN_SHM_DIR`):
   * offered in HELLO; used when the coordinator agrees (side-files.ts).
   */
  sideDir?: string;
  /**
   * Fault injection for tests: 'nan@S' poisons this worker's first gradient at step S;
   * 'exit@S', 'kill@S', 'stop@S' exit / SIGKILL / SIGSTOP this process when work of step S
   * arrives (mid-step: the micro-batches are dealt and not returned); 'slow@S' makes its first
   * result of step S take 2 s longer (reported as compute time, like a first step compiling
   * its pipelines).
   */
  fault?: string;
}

export interface WorkerResult {
  reason: string;
  itemsDone: number;
  connections: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setMaxPayload(ws: WebSocket, bytes: number): void {
  const r = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
  if (r && typeof r._maxPayload === 'number') r._maxPayload = Math.min(bytes, 0x7fffffff);
}

/** Runs a worker until the coordinator says BYE or it cannot reconnect in time. */
export async function runWorker(o: WorkerOptions): Promise<WorkerResult> {
  const log = o.log ?? ((s: string) => console.error(s));
  const rt = o.runtime ?? (await Runtime.create());
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const retryMs = (o.retryForSec ?? 120) * 1000;
  const fault = /^(nan|exit|kill|stop|slow)@(\d+)$/.exec(o.fault ?? '');
  let model: Recognizer | null = null;
  let modelKey = '';
  let itemsDone = 0;
  let connections = 0;
  let lastGood = performance.now();
  let delay = 250;
  let faultUsed = false;

  const session = () =>
    new Promise<{ bye: string | null; fatal?: string }>((resolve) => {
      const ws = new WebSocket(o.url, {
        maxPayload: Math.min(o.maxPayload ?? 1 << 30, 0x7fffffff),
        perMessageDeflate: false,
        // No masking (an all-zero mask is skipped by ws on both ends): masking protects
        // browser-to-proxy paths, not a worker talking to its coordinator, and it costs a
        // pass over every gradient byte.
        generateMask: (mask: Buffer) => void mask.fill(0),
        ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
        ...(o.insecure ? { rejectUnauthorized: false } : {}),
      });
      let spec: ModelSpec | null = null;
      // The coordinator's side files, once it agreed: STATE is read from them for the whole
      // connection; RESULTs are written there until a write fails (then inline).
      let stateFiles: SideFiles | null = null;
      let resultFiles: SideFiles | null = null;
      let workerId = 0;
      let stateStep = -1;
      let r0: Float32Array[] = [];
      const queue: Array<{ step: number; unit: WorkUnit; mbs: MicroBatch[] }> = [];
      let busy = false;
      let bye: string | null = null;
      let lastSeen = performance.now();
      let timeoutMs = 30_000;
      let open = false;
      let lastTick = performance.now();
      const watchdog = setInterval(() => {
        const now = performance.now();
        // After a stall of this process (a long synchronous section) pings may sit unread.
        if (now - lastTick > 2000) lastSeen = Math.max(lastSeen, now);
        lastTick = now;
        if (open && now - lastSeen > timeoutMs) {
          log(`worker ${name}: no sign of the coordinator for ${Math.round(timeoutMs / 1000)} s; reconnecting`);
          ws.terminate();
        }
      }, 1000);
      let closedByUs = false;
      const fail = (reason: string) => {
        closedByUs = true;
        log(`worker ${name}: closing the connection: ${reason}`);
        ws.close(1008, reason.slice(0, 120));
        setTimeout(() => ws.terminate(), 1000).unref();
      };

      const drain = async () => {
        if (busy) return;
        busy = true;
        try {
          while (queue.length && ws.readyState === WebSocket.OPEN) {
            const job = queue.shift()!;
            if (job.step !== stateStep) continue;
            let computeMs = 0;
            const leaves: Part[] = [];
            for (const mb of job.mbs) {
              const t0 = performance.now();
              model!.namedBuffers().forEach(([, t], i) => rt.write(t, r0[i]!));
              leaves.push(leafPart(await computeMicro(rt, model!, mb)));
              computeMs += performance.now() - t0;
            }
            // The unit's partial sum, by the same tree as everywhere else.
            const part = combineParts(leaves, job.unit.level, job.unit.index)!;
            if (fault?.[1] === 'slow' && !faultUsed && job.step === Number(fault[2])) {
              faultUsed = true;
              await new Promise((r) => setTimeout(r, SLOW_FAULT_MS));
              computeMs += SLOW_FAULT_MS;
            }
            if (fault?.[1] === 'nan' && !faultUsed && job.step === Number(fault[2])) {
              faultUsed = true;
              const g = part.grads.find((x) => x !== null);
              if (g) g[0] = NaN;
            }
            if (ws.readyState !== WebSocket.OPEN) break;
            const meta = { level: job.unit.level, index: job.unit.index, ks: part.ks, computeMs: Math.round(computeMs * 1000) / 1000, hasGrad: part.grads.map((g) => g !== null) };
            const tensors = [...part.grads.map((g) => g ?? new Float32Array(0)), ...part.buffers, Float64Array.from(part.losses)];
            let sent = false;
            if (resultFiles) {
              const file = resultFile(workerId, job.unit.level, job.unit.index);
              const frame = encodeSideFrame(MsgType.RESULT, job.step, meta, tensors, file);
              try {
                resultFiles.write(file, frame.body);
                ws.send(frame.head);
                sent = true;
              } catch (e) {
                log(`worker ${name}: cannot write ${resultFiles.dir}/${file} (${e instanceof Error ? e.message : String(e)}); sending over the socket from now on`);
                resultFiles = null;
              }
            }
            if (!sent) sendChunks(ws, encodeFrameChunks(MsgType.RESULT, job.step, meta, tensors).chunks);
            itemsDone += part.ks.length;
          }
        } catch (e) {
          fail(`compute failed: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
          busy = false;
        }
      };

      ws.on('open', () => {
        open = true;
        connections++;
        lastSeen = performance.now();
        ws.send(encodeFrame(MsgType.HELLO, 0, { token: o.token, name, pid: globalThis.process.pid, host: hostname(), ...(o.sideDir ? { shm: o.sideDir } : {}) }));
      });
      ws.on('ping', () => (lastSeen = performance.now()));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        lastSeen = performance.now();
        try {
          if (!isBinary) throw new ProtocolError('text frame (the protocol is binary)');
          // Side files only for the coordinator's STATE files, and only once it agreed.
          const f = decodeFrame(data, stateFiles ? { side: (file, bytes) => {
            if (!isStateFile(file)) throw new ProtocolError(`side file ${file.slice(0, 120)} is not a STATE file`);
            return stateFiles!.read(file, bytes);
          } } : {});
          if (!spec) {
            if (f.type === MsgType.BYE) {
              bye = parseMeta(ByeMeta, f).reason;
              return;
            }
            expectType(f, MsgType.WELCOME);
            expectStep(f, 0);
            const w = parseMeta(WelcomeMeta, f);
            const key = JSON.stringify(w.model);
            if (key !== modelKey) {
              model?.dispose();
              model = buildModel(rt, w.model.name, w.model.hyper, w.model.seed);
              modelKey = key;
              const params = model.namedParameters().map(([n, p]) => `${n}[${p.value.shape.join(',')}]`);
              const bufs = model.namedBuffers().map(([n, t]) => `${n}[${t.shape.join(',')}]`);
              const want = [...w.model.params.map((p) => `${p.name}[${p.shape.join(',')}]`), '|', ...w.model.buffers.map((b) => `${b.name}[${b.shape.join(',')}]`)];
              if ([...params, '|', ...bufs].join(' ') !== want.join(' ')) {
                modelKey = '';
                throw new ProtocolError(`WELCOME: the model '${w.model.name}' built here does not match the coordinator's parameters`);
              }
            }
            spec = w.model;
            workerId = w.workerId;
            stateFiles = w.side && o.sideDir ? new SideFiles(o.sideDir) : null;
            resultFiles = stateFiles;
            timeoutMs = w.timeoutMs;
            setMaxPayload(ws, w.maxPayload);
            lastGood = performance.now();
            delay = 250;
            log(`worker ${name}: joined ${o.url} as worker ${w.workerId} (${w.model.name})`);
            return;
          }
          switch (f.type) {
            case MsgType.STATE: {
              checkState(f, spec);
              const P = spec.params.length;
              const params = model!.parameters();
              f.tensors.slice(0, P).forEach((t, i) => rt.write(params[i]!.value, t as Float32Array));
              r0 = (f.tensors.slice(P) as Float32Array[]).map((t) => new Float32Array(t));
              stateStep = f.step;
              return;
            }
            case MsgType.WORK: {
              if (stateStep < 0) throw new ProtocolError('WORK before any STATE');
              expectStep(f, stateStep);
              const { items, units } = checkWork(f, spec);
              if (fault && PROCESS_FAULTS.has(fault[1]!) && f.step === Number(fault[2])) {
                log(`worker ${name}: fault injection: ${fault[1]} at step ${f.step}`);
                if (fault[1] === 'exit') globalThis.process.exit(3);
                globalThis.process.kill(globalThis.process.pid, fault[1] === 'kill' ? 'SIGKILL' : 'SIGSTOP');
              }
              const { inChannels, height, width } = spec.hyper;
              const byK = new Map<number, MicroBatch>();
              items.forEach((it, i) => {
                const flat = f.tensors[2 * i + 1] as Int32Array;
                const labels: number[][] = [];
                let at = 0;
                for (const len of it.labelLengths) {
                  labels.push(Array.from(flat.subarray(at, at + len)));
                  at += len;
                }
                byK.set(it.k, { k: it.k, images: f.tensors[2 * i] as Float32Array, shape: [it.n, inChannels, height, width], labels, seed: it.seed });
              });
              for (const unit of units) queue.push({ step: f.step, unit, mbs: unit.ks.map((k) => byK.get(k)!) });
              void drain();
              return;
            }
            case MsgType.BYE:
              bye = parseMeta(ByeMeta, f).reason;
              return;
            default:
              throw new ProtocolError(`unexpected ${typeName(f.type)} message from the coordinator`);
          }
        } catch (e) {
          fail(e instanceof ProtocolError ? e.message : `bad message: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      ws.on('error', (e) => log(`worker ${name}: ${o.url}: ${e.message}`));
      ws.on('close', (code, reason) => {
        clearInterval(watchdog);
        const why = reason.toString('utf8');
        if (open && !bye) log(`worker ${name}: connection closed (${code}${why ? ` ${why}` : ''})`);
        // Retrying cannot fix a wrong token or another protocol version: stop.
        if (!bye && !closedByUs && code === 1008 && /^(authentication failed|protocol version)/.test(why)) {
          resolve({ bye: null, fatal: why });
          return;
        }
        resolve({ bye });
      });
    });

  for (;;) {
    const { bye, fatal } = await session();
    if (fatal) {
      log(`worker ${name}: rejected by the coordinator (${fatal}); not retrying`);
      (model as Recognizer | null)?.dispose();
      if (!o.runtime) rt.destroy();
      return { reason: `rejected: ${fatal}`, itemsDone, connections };
    }
    if (bye !== null) {
      log(`worker ${name}: coordinator said goodbye (${bye}); ${itemsDone} micro-batches computed`);
      (model as Recognizer | null)?.dispose();
      if (!o.runtime) rt.destroy();
      return { reason: bye, itemsDone, connections };
    }
    if (performance.now() - lastGood > retryMs) {
      log(`worker ${name}: could not reach ${o.url} for ${Math.round(retryMs / 1000)} s; giving up`);
      (model as Recognizer | null)?.dispose();
      if (!o.runtime) rt.destroy();
      return { reason: 'coordinator unreachable', itemsDone, connections };
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}

export const WORKER_HELP = `Usage: crnn-cli worker --connect ws://HOST:PORT [options]

Joins a training coordinator ('crnn-cli coordinator' or 'crnn-cli train --workers N') and
computes gradients on this machine's WebGPU device until the coordinator is done.

  --connect URL        ws://HOST:PORT, or wss://HOST:PORT for TLS
  --token T            shared token (default: the CRNN_TOKEN environment variable)
  --name NAME          name shown by the coordinator (default host:pid)
  --retry-for S        keep reconnecting for S seconds after losing the coordinator (120)
  --ca FILE            trust this CA certificate (wss with a private CA)
  --insecure           do not verify the coordinator's TLS certificate
`;

/** The `worker` command: parses flags, runs the worker; returns the exit code. */
export async function workerMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      connect: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      'retry-for': { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(WORKER_HELP);
    return 0;
  }
  const url = values.connect;
  if (!url || !/^wss?:\/\//.test(url)) {
    console.error('crnn-cli worker: --connect ws://HOST:PORT is required');
    return 2;
  }
  const token = values.token ?? env.CRNN_TOKEN;
  if (!token) {
    console.error('crnn-cli worker: a token is required (--token or the CRNN_TOKEN environment variable)');
    return 2;
  }
  const retry = values['retry-for'] !== undefined ? Number(values['retry-for']) : 120;
  if (!(retry >= 0)) {
    console.error(`crnn-cli worker: --retry-for: expected seconds >= 0, found '${values['retry-for']}'`);
    return 2;
  }
  const r = await runWorker({
    url,
    token,
    retryForSec: retry,
    ...(values.name ? { name: values.name } : {}),
    ...(values.ca ? { ca: values.ca } : {}),
    ...(values.insecure ? { insecure: true } : {}),
    ...(env.CRNN_WORKER_FAULT ? { fault: env.CRNN_WORKER_FAULT } : {}),
    ...(env.CRNN_SHM_DIR ? { sideDir: env.CRNN_SHM_DIR } : {}),
  });
  return r.reason === 'coordinator unreachable' || r.reason.startsWith('rejected') ? 1 : 0;
}
