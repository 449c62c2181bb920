/**
 * The coordinator: a websocket server that deals each step's micro-batches to workers, collects
 * their gradients (partial sums of the fixed reduction tree) and hands them to the trainer,
 * which reduces them by that tree, clips and applies the optimizer on its own device (the coordinator holds
 * the model: workers are stateless and receive the weights every step).
 *
 * It implements StepExecutor, so `train(cfg, { executor: coordinator })` is distributed
 * training with every other part of the trainer unchanged (data, schedule, validation,
 * atomic checkpoints, resume).
 *
 * Dealing: each step the micro-batches are split into contiguous runs, one per worker, sized
 * by each worker's measured speed; a run is sent as the maximal nodes of the reduction tree
 * it covers (units), and the worker returns one partial sum per unit (train/micro.ts).
 *
 * Faults: a worker that closes, crashes, breaks the protocol or misses heartbeats for
 * `timeoutSec` is dropped and its outstanding units are dealt to the others. A unit whose
 * result holds NaN/Inf is recomputed by another worker; when every worker
 * that could gives a non-finite result (or no other is left) the result is kept and the
 * trainer skips the step by its usual rule. With no worker left the step waits up to
 * `waitWorkersSec`, saying so, then training stops (NoWorkersError) with the last checkpoint
 * intact.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { TrainingStopped } from '../train/train.js';
import { decompose, partIsFinite, type ExecutorContext, type MicroBatch, type Part, type StepExecutor, type StepStats } from '../train/micro.js';
import {
  checkResult,
  decodeFrame,
  encodeFrame,
  encodeFrameChunks,
  encodeSideFrame,
  sendChunks,
  expectStep,
  expectType,
  HELLO_MAX_BYTES,
  HelloMeta,
  maxFrameBytes,
  MsgType,
  parseMeta,
  ProtocolError,
  typeName,
  type ModelSpec,
  type WorkItem,
  type WorkUnit,
} from './protocol.js';
import { resultPrefix, SideFiles, stateFile } from './side-files.js';

export class NoWorkersError extends TrainingStopped {}

export interface CoordinatorOptions {
  /** Shared secret every worker must present (compared in constant time). */
  token: string;
  /** Interface to bind (default 127.0.0.1: loopback only). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** TLS (wss://): certificate and key, PEM file paths. */
  tls?: { cert: string; key: string };
  /** Seconds between heartbeats (websocket pings). Default 2. */
  heartbeatSec?: number;
  /** Seconds without any sign of life after which a worker is dropped. Default 30. */
  timeoutSec?: number;
  /**
   * Seconds a worker may hold dealt micro-batches without returning any result (a worker
   * that answers pings but does not compute). Default 300.
   */
  resultTimeoutSec?: number;
  /** Seconds a connection has to authenticate (HELLO). Default 10. */
  helloTimeoutSec?: number;
  /** Seconds to wait for a worker when none is left, before stopping. Default 120. */
  waitWorkersSec?: number;
  /** Most simultaneous connections (authenticated or not). Default 64. */
  maxConnections?: number;
  /**
   * Say BYE to the workers when training ends (default true: they exit). False drops the
   * connections without a word, as a crash would (tests of coordinator restarts).
   */
  byeOnFinish?: boolean;
  /**
   * A side-file directory (side-files.ts) this process made for its own local workers: a
   * worker whose HELLO names it exchanges STATE and RESULT tensor bytes through files there.
   */
  sideDir?: string;
  log?: (s: string) => void;
  warn?: (s: string) => void;
}

interface Conn {
  id: number;
  ws: WebSocket;
  remote: string;
  name: string;
  authed: boolean;
  welcomed: boolean;
  open: boolean;
  /** The step whose weights this worker holds, or -1. */
  stateStep: number;
  /** Tensor bytes go through side files (a local worker that named our directory). */
  side: boolean;
  /** Units dealt this step and not yet returned: key -> images. */
  outstanding: Map<string, number>;
  /** Images per millisecond (moving average of its compute times), or null before a result. */
  speed: number | null;
  /**
   * Results measured so far. The first (its pipelines compiling, its caches cold) is only
   * provisional: the second replaces it instead of being averaged in.
   */
  speedSamples: number;
  /** Consecutive steps whose first dealing gave it nothing (see PROBE_AFTER_IDLE_STEPS). */
  idleSteps: number;
  lastSeen: number;
  /** Last time it was dealt work or returned a result (for the result timeout). */
  lastProgress: number;
  /** This step: compute time reported, first send, last result. */
  stepCompute: number;
  stepFirstSend: number;
  /** When its last result of this step arrived (before reading and checking it), and how long those took. */
  stepLastResult: number;
  stepLastDecode: number;
  /** When the message being handled arrived. */
  arrived: number;
  /** Host time spent sending to other workers this step before this one's first WORK. */
  sendsBefore: number;
  itemsDone: number;
  bytesIn: number;
  bytesOut: number;
  joinedAt: number;
  helloTimer: NodeJS.Timeout | null;
}

interface Unit extends WorkUnit {
  key: string;
  images: number;
}

interface StepRun {
  step: number;
  M: number;
  micro: Map<number, MicroBatch>;
  units: Map<string, Unit>;
  pending: string[];
  parts: Map<string, Part>;
  /** Workers that returned a non-finite result for a unit, and the last such result. */
  tried: Map<string, Set<number>>;
  nonFinite: Map<string, Part>;
  /** The STATE message as fragments (the weights are not copied into one buffer). */
  state: { chunks: Uint8Array[]; bytes: number };
  /** The weights and buffers (for the side-file STATE, written at its first use). */
  stateTensors: Float32Array[];
  /** The side-file STATE's frame, once written; null when not (yet) or when writing failed. */
  sideState: { head: Buffer; bytes: number } | null;
  sideStateFailed: boolean;
  bytes: number;
  redealt: number;
  /** Host time spent moving tensors this step: preparing and sending, reading and checking every result. */
  commMs: number;
  /** Host time before any WORK went out (weights read back, STATE encoded). */
  prepMs: number;
  /** Host time spent sending WORK (and STATE) so far this step. */
  sendMs: number;
  participants: Set<Conn>;
  waitTimer: NodeJS.Timeout | null;
  resolve: (v: { parts: Part[]; stats: StepStats }) => void;
  reject: (e: unknown) => void;
  done: boolean;
}

const unitKey = (level: number, index: number) => `${level}/${index}`;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time token comparison (hashes first, so lengths do not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

/** Sets the per-connection frame bound on ws's receiver (the server-wide maxPayload is the ceiling). */
function setMaxPayload(ws: WebSocket, bytes: number): void {
  const r = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
  if (r && typeof r._maxPayload === 'number') r._maxPayload = Math.min(bytes, 0x7fffffff);
}

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** Websocket close reasons are at most 123 bytes. */
const clip = (s: string) => (Buffer.byteLength(s) > 120 ? `${Buffer.from(s).subarray(0, 117).toString('utf8')}...` : s);

/**
 * A worker whose speed-weighted share of a step was empty this many steps in a row is dealt
 * one micro-batch, to measure it again.
 */
const PROBE_AFTER_IDLE_STEPS = 3;

export class Coordinator implements StepExecutor {
  private readonly o: Required<Omit<CoordinatorOptions, 'tls' | 'log' | 'warn' | 'sideDir'>> & Pick<CoordinatorOptions, 'tls'>;
  private readonly side: SideFiles | null;
  private readonly log: (s: string) => void;
  private readonly warn: (s: string) => void;
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  private ctx: ExecutorContext | null = null;
  private spec: ModelSpec | null = null;
  private maxFromWorker = HELLO_MAX_BYTES;
  private maxToWorker = 0;
  private current: StepRun | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastTick = 0;
  private finished = false;
  private progressInfo: Record<string, number | string> = {};
  private microBatches = 1;
  /** Closed connections and why, most recent last (for status and tests). */
  readonly rejections: Array<{ remote: string; reason: string; at: number }> = [];
  /** `bytes` counts every byte moved; `sideBytes` the part of it that went through side files. */
  readonly totals = { steps: 0, redealt: 0, bytes: 0, sideBytes: 0, nonFiniteRecomputed: 0, workersJoined: 0, workersLost: 0 };
  url = '';
  port = 0;

  constructor(o: CoordinatorOptions) {
    if (!o.token) throw new TrainingStopped('coordinator: a token is required (--token or CRNN_TOKEN)');
    this.o = {
      token: o.token,
      host: o.host ?? '127.0.0.1',
      port: o.port ?? 0,
      tls: o.tls,
      heartbeatSec: o.heartbeatSec ?? 2,
      timeoutSec: o.timeoutSec ?? 30,
      helloTimeoutSec: o.helloTimeoutSec ?? 10,
      resultTimeoutSec: o.resultTimeoutSec ?? 300,
      waitWorkersSec: o.waitWorkersSec ?? 120,
      maxConnections: o.maxConnections ?? 64,
      byeOnFinish: o.byeOnFinish ?? true,
    };
    this.side = o.sideDir ? new SideFiles(o.sideDir) : null;
    this.log = o.log ?? ((s) => console.log(s));
    this.warn = o.warn ?? ((s) => console.warn(`warning: ${s}`));
  }

  /** Starts the server; resolves with the URL workers connect to. */
  async listen(): Promise<string> {
    const tls = this.o.tls;
    const server = tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }) : createHttpServer();
    server.on('request', (req, res) => this.httpStatus(req, res));
    this.server = server;
    // The server-wide ceiling; each connection gets a tighter bound (HELLO, then RESULT size).
    this.wss = new WebSocketServer({ server, maxPayload: 0x7fffffff, perMessageDeflate: false });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    this.port = addr.port;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `${tls ? 'wss' : 'ws'}://${host}:${addr.port}`;
    this.lastTick = performance.now();
    this.heartbeat = setInterval(() => this.tick(), this.o.heartbeatSec * 1000);
    this.log(`coordinator: listening on ${this.url} (token required${tls ? ', TLS' : ''})`);
    return this.url;
  }

  // ---- StepExecutor --------------------------------------------------------------------------

  async attach(ctx: ExecutorContext): Promise<void> {
    if (!this.server) await this.listen();
    this.ctx = ctx;
    this.microBatches = ctx.microBatches;
    const { model } = ctx;
    this.spec = {
      name: ctx.modelName,
      hyper: ctx.hyper,
      seed: ctx.seed,
      params: model.namedParameters().map(([name, p]) => ({ name, shape: [...p.value.shape] })),
      buffers: model.namedBuffers().map(([name, t]) => ({ name, shape: [...t.shape] })),
    };
    const bound = maxFrameBytes(this.spec, ctx.batch);
    this.maxToWorker = bound;
    this.maxFromWorker = bound;
    for (const c of this.conns) {
      if (c.authed && !c.welcomed) this.welcome(c);
    }
  }

  async run(step: number, micro: MicroBatch[], r0: Float32Array[]): Promise<{ parts: Part[]; stats: StepStats }> {
    const { rt, model } = this.ctx!;
    const t0 = performance.now();
    const weights = (await rt.readMany(model.parameters().map((p) => p.value))) as Float32Array[];
    const state = encodeFrameChunks(MsgType.STATE, step, {}, [...weights, ...r0]);
    const commMs = performance.now() - t0;
    for (const c of this.conns) {
      c.outstanding.clear();
      c.stepCompute = 0;
      c.stepFirstSend = 0;
      c.stepLastResult = 0;
      c.stepLastDecode = 0;
    }
    const M = Math.max(1, ...micro.map((m) => m.k + 1), this.microBatches);
    return new Promise((resolve, reject) => {
      this.current = {
        step,
        M,
        micro: new Map(micro.map((m) => [m.k, m])),
        units: new Map(),
        pending: [],
        parts: new Map(),
        tried: new Map(),
        nonFinite: new Map(),
        state,
        stateTensors: [...weights, ...r0],
        sideState: null,
        sideStateFailed: false,
        bytes: 0,
        redealt: 0,
        commMs,
        prepMs: commMs,
        sendMs: 0,
        participants: new Set(),
        waitTimer: null,
        resolve,
        reject,
        done: false,
      };
      this.dealStep();
    });
  }

  progress(p: Record<string, number | string>): void {
    this.progressInfo = p;
  }

  async finish(reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const bye = encodeFrame(MsgType.BYE, 0, { reason: reason.slice(0, 500) });
    for (const c of this.conns) {
      if (c.helloTimer) clearTimeout(c.helloTimer);
      if (!this.o.byeOnFinish) {
        c.ws.terminate();
        continue;
      }
      if (c.welcomed && c.open) c.ws.send(bye);
      c.ws.close(1000, 'training finished');
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const c of this.conns) c.ws.terminate();
        resolve();
      }, 2000);
      const check = () => {
        if ([...this.conns].every((c) => !c.open)) {
          clearTimeout(t);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
    this.wss?.close();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await closed;
    }
  }

  /** Workers alive (welcomed) now. */
  get alive(): number {
    return [...this.conns].filter((c) => c.welcomed && c.open).length;
  }

  /** A snapshot for `crnn-cli status` and tests. */
  status(): Record<string, unknown> {
    return {
      url: this.url,
      step: this.current?.step ?? null,
      progress: this.progressInfo,
      workersAlive: this.alive,
      totals: this.totals,
      workers: [...this.conns].filter((c) => c.welcomed).map((c) => ({
        id: c.id,
        name: c.name,
        remote: c.remote,
        imagesPerSecond: c.speed === null ? null : Math.round(c.speed * 1000 * 10) / 10,
        itemsDone: c.itemsDone,
        outstanding: [...c.outstanding.keys()],
        secondsSinceSeen: Math.round((performance.now() - c.lastSeen) / 100) / 10,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      })),
      rejected: this.rejections.slice(-20),
    };
  }

  // ---- connections ---------------------------------------------------------------------------

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.finished || this.conns.size >= this.o.maxConnections) {
      ws.close(1013, this.finished ? 'training finished' : 'too many connections');
      return;
    }
    setMaxPayload(ws, HELLO_MAX_BYTES);
    const c: Conn = {
      id: this.nextId++,
      ws,
      remote,
      name: '',
      authed: false,
      welcomed: false,
      open: true,
      stateStep: -1,
      side: false,
      outstanding: new Map(),
      speed: null,
      speedSamples: 0,
      idleSteps: 0,
      lastSeen: performance.now(),
      lastProgress: performance.now(),
      stepCompute: 0,
      stepFirstSend: 0,
      stepLastResult: 0,
      stepLastDecode: 0,
      arrived: 0,
      sendsBefore: 0,
      itemsDone: 0,
      bytesIn: 0,
      bytesOut: 0,
      joinedAt: Date.now(),
      helloTimer: null,
    };
    this.conns.add(c);
    c.helloTimer = setTimeout(() => {
      if (!c.authed) this.reject(c, `no HELLO within ${this.o.helloTimeoutSec} s`);
    }, this.o.helloTimeoutSec * 1000);
    ws.on('message', (data, isBinary) => this.onMessage(c, data as Buffer, isBinary));
    ws.on('pong', () => (c.lastSeen = performance.now()));
    ws.on('error', (e) => this.noteRejection(c, `websocket error: ${e.message}`));
    ws.on('close', (code, reason) => this.onClose(c, code, reason.toString('utf8')));
  }

  private noteRejection(c: Conn, reason: string): void {
    this.rejections.push({ remote: `${c.name ? `${c.name} ` : ''}${c.remote}`, reason, at: Date.now() });
    if (this.rejections.length > 200) this.rejections.splice(0, this.rejections.length - 200);
    this.warn(`coordinator: closing connection ${c.id} (${c.name || 'unauthenticated'}, ${c.remote}): ${reason}`);
  }

  /** Closes a connection for a protocol violation: logged, with the reason sent to the peer. */
  private reject(c: Conn, reason: string): void {
    if (!c.open) return;
    this.noteRejection(c, reason);
    c.ws.close(1008, clip(reason));
    // A peer that does not answer the close handshake is cut off.
    setTimeout(() => c.ws.terminate(), 1000).unref();
    this.lose(c);
  }

  private onMessage(c: Conn, data: Buffer, isBinary: boolean): void {
    if (!c.open) return;
    c.lastSeen = performance.now();
    c.arrived = c.lastSeen;
    this.count(c, 'bytesIn', data.byteLength);
    try {
      if (!isBinary) throw new ProtocolError('text frame (the protocol is binary)');
      const f = decodeFrame(data, c.side ? { side: (file, bytes) => this.readSide(c, file, bytes) } : {});
      if (f.bytes > data.byteLength) this.count(c, 'bytesIn', f.bytes - data.byteLength, true);
      if (!c.authed) {
        expectType(f, MsgType.HELLO);
        expectStep(f, 0);
        const hello = parseMeta(HelloMeta, f);
        if (!tokenMatches(hello.token, this.o.token)) throw new ProtocolError('authentication failed: wrong token');
        c.authed = true;
        c.name = hello.name || `worker-${c.id}`;
        c.side = this.side !== null && hello.shm === this.side.dir;
        if (c.helloTimer) clearTimeout(c.helloTimer);
        if (this.spec) this.welcome(c);
        return;
      }
      if (!c.welcomed) throw new ProtocolError(`unexpected ${typeName(f.type)} before WELCOME`);
      expectType(f, MsgType.RESULT);
      this.onResult(c, f);
    } catch (e) {
      this.reject(c, e instanceof ProtocolError ? e.message : `bad message: ${reasonOf(e)}`);
    }
  }

  private send(c: Conn, frame: Buffer | { chunks: Uint8Array[]; bytes: number }): void {
    this.count(c, 'bytesOut', frame instanceof Uint8Array ? frame.byteLength : frame.bytes);
    if (frame instanceof Uint8Array) c.ws.send(frame);
    else sendChunks(c.ws, frame.chunks);
  }

  /** Counts bytes moved for the connection, the current step and the totals (`side`: through a side file). */
  private count(c: Conn, dir: 'bytesIn' | 'bytesOut', n: number, side = false): void {
    c[dir] += n;
    if (this.current) this.current.bytes += n;
    this.totals.bytes += n;
    if (side) this.totals.sideBytes += n;
  }

  private welcome(c: Conn): void {
    const spec = this.spec!;
    c.welcomed = true;
    setMaxPayload(c.ws, this.maxFromWorker);
    this.send(
      c,
      encodeFrame(MsgType.WELCOME, 0, {
        workerId: c.id,
        model: spec,
        heartbeatMs: Math.round(this.o.heartbeatSec * 1000),
        timeoutMs: Math.round(this.o.timeoutSec * 1000),
        maxPayload: this.maxToWorker,
        ...(c.side ? { side: true } : {}),
      }),
    );
    this.totals.workersJoined++;
    this.log(`coordinator: worker ${c.id} '${c.name}' (${c.remote}) joined; ${this.alive} alive`);
    // Mid-step joiner: it takes undealt work only (none alive before it); otherwise the next step.
    if (this.current && !this.current.done && this.current.pending.length) this.deal();
  }

  private onClose(c: Conn, code: number, reason: string): void {
    if (c.helloTimer) clearTimeout(c.helloTimer);
    const wasOpen = c.open;
    this.conns.delete(c);
    if (wasOpen && c.welcomed && !this.finished) this.log(`coordinator: worker ${c.id} '${c.name}' disconnected (${code}${reason ? ` ${reason}` : ''})`);
    this.lose(c);
  }

  /** Forgets a worker: its outstanding micro-batches go back to be dealt again. */
  private lose(c: Conn): void {
    if (!c.open) return;
    c.open = false;
    this.conns.delete(c);
    this.side?.forget(resultPrefix(c.id));
    if (!c.welcomed || this.finished) return;
    this.totals.workersLost++;
    const run = this.current;
    if (run && !run.done && c.outstanding.size) {
      const keys = [...c.outstanding.keys()];
      c.outstanding.clear();
      run.pending.push(...keys);
      const ks = keys.flatMap((k) => run.units.get(k)!.ks);
      run.redealt += ks.length;
      this.totals.redealt += ks.length;
      this.warn(`coordinator: step ${run.step}: re-dealing micro-batch(es) ${ks.join(', ')} of lost worker ${c.id} '${c.name}'`);
      this.deal();
    }
  }

  private tick(): void {
    const now = performance.now();
    // If this process itself was stalled (a long synchronous section), pongs may be queued
    // unread: give every worker a fresh start instead of dropping it for our own delay.
    const lag = now - this.lastTick - this.o.heartbeatSec * 1000;
    this.lastTick = now;
    for (const c of [...this.conns]) {
      if (!c.open) continue;
      if (lag > 1000) {
        c.lastSeen = Math.max(c.lastSeen, now);
        continue;
      }
      if (now - c.lastSeen > this.o.timeoutSec * 1000) {
        this.noteRejection(c, `no heartbeat for ${this.o.timeoutSec} s`);
        c.ws.terminate();
        this.lose(c);
        continue;
      }
      if (c.outstanding.size && now - c.lastProgress > this.o.resultTimeoutSec * 1000) {
        this.reject(c, `no result for ${this.o.resultTimeoutSec} s`);
        continue;
      }
      try {
        c.ws.ping();
      } catch {
        /* closing */
      }
    }
  }

  // ---- dealing and results ---------------------------------------------------------------------

  private aliveWorkers(): Conn[] {
    return [...this.conns].filter((c) => c.welcomed && c.open).sort((x, y) => x.id - y.id);
  }

  private speedOf(c: Conn, alive: Conn[]): number {
    if (c.speed !== null) return c.speed;
    const known = alive.map((w) => w.speed).filter((s): s is number => s !== null);
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  }

  private addUnit(run: StepRun, u: WorkUnit): Unit {
    const unit: Unit = { ...u, key: unitKey(u.level, u.index), images: u.ks.reduce((s, k) => s + run.micro.get(k)!.shape[0], 0) };
    run.units.set(unit.key, unit);
    return unit;
  }

  /**
   * The first dealing of a step: the micro-batches in order, cut into one contiguous run per
   * worker sized by its measured speed (images/ms), each run sent as the tree nodes it covers.
   */
  private dealStep(): void {
    const run = this.current!;
    const present = [...run.micro.keys()].sort((a, b) => a - b);
    const alive = this.aliveWorkers();
    if (alive.length === 0) {
      for (const u of decompose(present, present, run.M)) run.pending.push(this.addUnit(run, u).key);
      this.deal();
      return;
    }
    const speeds = alive.map((c) => this.speedOf(c, alive));
    const total = speeds.reduce((a, b) => a + b, 0);
    const images = present.map((k) => run.micro.get(k)!.shape[0]);
    const allImages = images.reduce((a, b) => a + b, 0);
    const runs: number[][] = alive.map(() => []);
    let before = 0;
    present.forEach((k, i) => {
      const mid = (before + images[i]! / 2) / allImages;
      before += images[i]!;
      let acc = 0;
      let w = alive.length - 1;
      for (let j = 0; j < alive.length; j++) {
        acc += speeds[j]! / total;
        if (mid < acc) {
          w = j;
          break;
        }
      }
      runs[w]!.push(k);
    });
    // A worker dealt nothing for a few steps in a row gets one micro-batch (from the end of
    // the longest run) so that its speed is measured again: a worker that was slow once (a
    // first step compiling its pipelines, a stall) is otherwise never dealt work again, as
    // its share of a step rounds down to nothing and only results update the speed.
    alive.forEach((c, j) => {
      if (runs[j]!.length > 0 || c.idleSteps < PROBE_AFTER_IDLE_STEPS) return;
      let longest = 0;
      runs.forEach((r, i) => {
        if (r.length > runs[longest]!.length) longest = i;
      });
      if (runs[longest]!.length >= 2) runs[j]!.push(runs[longest]!.pop()!);
    });
    alive.forEach((c, j) => {
      c.idleSteps = runs[j]!.length === 0 ? c.idleSteps + 1 : 0;
      if (runs[j]!.length === 0) return;
      const units = decompose(runs[j]!, present, run.M).map((u) => this.addUnit(run, u));
      this.sendWork(c, run, units);
    });
  }

  /** Deals pending units (of lost workers, or to recompute) one by one to the earliest finisher. */
  private deal(): void {
    const run = this.current;
    if (!run || run.done || !this.spec) return;
    if (run.pending.length === 0) return this.maybeComplete();
    const alive = this.aliveWorkers();
    if (alive.length === 0) {
      if (!run.waitTimer) {
        if (this.totals.workersJoined === 0) this.log(`coordinator: waiting for workers to connect (up to ${this.o.waitWorkersSec} s)`);
        else this.warn(`coordinator: step ${run.step}: no worker connected; waiting up to ${this.o.waitWorkersSec} s for one`);
        run.waitTimer = setTimeout(() => {
          run.done = true;
          this.current = null;
          run.reject(new NoWorkersError(`no worker for ${this.o.waitWorkersSec} s at step ${run.step}: training stopped (the last checkpoint is intact)`));
        }, this.o.waitWorkersSec * 1000);
      }
      return;
    }
    if (run.waitTimer) {
      clearTimeout(run.waitTimer);
      run.waitTimer = null;
    }
    const load = new Map<Conn, number>(alive.map((c) => [c, [...c.outstanding.values()].reduce((a, b) => a + b, 0)]));
    const dealt = new Map<Conn, Unit[]>();
    const pending = run.pending;
    run.pending = [];
    for (const key of pending) {
      const unit = run.units.get(key)!;
      const tried = run.tried.get(key);
      const candidates = alive.filter((c) => !tried?.has(c.id));
      if (candidates.length === 0) {
        // Every worker left gave a non-finite result: keep it; the trainer skips the step.
        run.parts.set(key, run.nonFinite.get(key)!);
        continue;
      }
      let best = candidates[0]!;
      let bestT = Infinity;
      for (const c of candidates) {
        const t = (load.get(c)! + unit.images) / this.speedOf(c, alive);
        if (t < bestT - 1e-12) {
          best = c;
          bestT = t;
        }
      }
      load.set(best, load.get(best)! + unit.images);
      dealt.set(best, [...(dealt.get(best) ?? []), unit]);
    }
    for (const [c, units] of dealt) this.sendWork(c, run, units);
    this.maybeComplete();
  }

  private sendWork(c: Conn, run: StepRun, units: Unit[]): void {
    const te = performance.now();
    if (c.stateStep !== run.step) {
      const side = c.side ? this.sideState(run) : null;
      if (side) {
        this.send(c, side.head);
        this.count(c, 'bytesOut', side.bytes, true);
      } else this.send(c, run.state);
      c.stateStep = run.step;
    }
    const items: WorkItem[] = [];
    const tensors: Array<Float32Array | Int32Array> = [];
    for (const u of units) {
      for (const k of u.ks) {
        const mb = run.micro.get(k)!;
        items.push({ k, n: mb.shape[0], seed: mb.seed, labelLengths: mb.labels.map((l) => l.length) });
        tensors.push(mb.images, Int32Array.from(mb.labels.flat()));
      }
      c.outstanding.set(u.key, u.images);
    }
    if (c.outstanding.size === units.length) c.lastProgress = performance.now();
    this.send(c, encodeFrame(MsgType.WORK, run.step, { items, units: units.map((u) => ({ level: u.level, index: u.index, ks: u.ks })) }, tensors));
    if (!c.stepFirstSend) {
      c.stepFirstSend = te;
      c.sendsBefore = run.sendMs;
    }
    run.participants.add(c);
    run.commMs += performance.now() - te;
    run.sendMs += performance.now() - te;
  }

  /**
   * Writes this step's STATE tensors to the side file once (at the first side-file worker's
   * turn; the name alternates by step parity, see side-files.ts). Null (inline instead) if it
   * fails.
   */
  private sideState(run: StepRun): { head: Buffer; bytes: number } | null {
    if (run.sideState || run.sideStateFailed || !this.side) return run.sideState;
    try {
      const file = stateFile(run.step);
      const frame = encodeSideFrame(MsgType.STATE, run.step, {}, run.stateTensors, file);
      this.side.write(file, frame.body);
      run.sideState = { head: frame.head, bytes: frame.bodyBytes };
    } catch (e) {
      run.sideStateFailed = true;
      this.warn(`coordinator: step ${run.step}: cannot write the weights to ${this.side.dir} (${reasonOf(e)}); sending them over the socket`);
    }
    return run.sideState;
  }

  /** A worker's side file: only names of its own, at most the largest legal RESULT. */
  private readSide(c: Conn, file: string, bytes: number): Uint8Array {
    if (!file.startsWith(resultPrefix(c.id))) throw new ProtocolError(`side file ${file.slice(0, 120)} is not one of this worker's (${resultPrefix(c.id)}*)`);
    if (bytes > this.maxFromWorker) throw new ProtocolError(`side file of ${bytes} bytes exceeds ${this.maxFromWorker}`);
    return this.side!.read(file, bytes);
  }

  private onResult(c: Conn, f: ReturnType<typeof decodeFrame>): void {
    const run = this.current;
    if (!run || run.done || f.step !== run.step) throw new ProtocolError(`RESULT for step ${f.step}, expected ${run && !run.done ? `step ${run.step}` : 'none (no step in progress)'}`);
    const td = performance.now();
    const meta = checkResult(f, this.spec!);
    const key = unitKey(meta.level, meta.index);
    const unit = run.units.get(key);
    if (!c.outstanding.has(key) || !unit || unit.ks.join() !== meta.ks.join()) throw new ProtocolError(`RESULT for tree node ${key} (${meta.ks.join(', ')}), which was not dealt to this worker`);
    const P = this.spec!.params.length;
    const part: Part = {
      level: meta.level,
      index: meta.index,
      ks: meta.ks,
      grads: f.tensors.slice(0, P).map((t, i) => (meta.hasGrad[i] ? (t as Float32Array) : null)),
      buffers: f.tensors.slice(P, P + this.spec!.buffers.length) as Float32Array[],
      losses: Array.from(f.tensors[f.tensors.length - 1] as Float64Array),
    };
    c.outstanding.delete(key);
    c.itemsDone += meta.ks.length;
    c.stepCompute += meta.computeMs;
    c.stepLastResult = c.arrived;
    c.lastProgress = performance.now();
    const speed = unit.images / Math.max(1e-3, meta.computeMs);
    c.speed = c.speed === null || c.speedSamples === 1 ? speed : 0.7 * c.speed + 0.3 * speed;
    c.speedSamples++;
    if (!partIsFinite(part)) {
      const tried = run.tried.get(key) ?? new Set<number>();
      tried.add(c.id);
      run.tried.set(key, tried);
      run.nonFinite.set(key, part);
      const others = this.aliveWorkers().some((o) => !tried.has(o.id));
      this.warn(`coordinator: step ${run.step}: worker ${c.id} '${c.name}' returned a non-finite result for micro-batch(es) ${meta.ks.join(', ')}${others ? '; recomputing on another worker' : '; no other worker to recompute'}`);
      if (others) {
        run.pending.push(key);
        run.redealt += meta.ks.length;
        this.totals.redealt += meta.ks.length;
        this.totals.nonFiniteRecomputed++;
      } else run.parts.set(key, part);
    } else {
      run.parts.set(key, part);
    }
    run.commMs += performance.now() - td;
    c.stepLastDecode = performance.now() - c.arrived;
    this.deal();
  }

  private maybeComplete(): void {
    const run = this.current;
    if (!run || run.done) return;
    const covered = [...run.parts.values()].reduce((s, p) => s + p.ks.length, 0);
    if (covered < run.micro.size) return;
    run.done = true;
    if (run.waitTimer) clearTimeout(run.waitTimer);
    this.current = null;
    this.totals.steps++;
    // The critical path: the worker whose last result came last.
    let crit: Conn | null = null;
    for (const c of run.participants) if (c.stepLastResult && (!crit || c.stepLastResult > crit.stepLastResult)) crit = c;
    const computeMs = crit ? crit.stepCompute : 0;
    const transferMs = crit ? Math.max(0, crit.stepLastResult - crit.stepFirstSend - crit.stepCompute) : 0;
    // Communication on the critical path: reading back and encoding the weights, sending WORK
    // to the workers dealt before the critical one, its round trip minus its compute (its side
    // of the transfer: sending to it, its reading the weights, writing and sending its result),
    // then reading and checking that last result. The other workers' results were read while
    // it still computed: overlapped, counted only in commAllMs.
    const commMs = crit ? run.prepMs + crit.sendsBefore + transferMs + crit.stepLastDecode : run.commMs;
    run.resolve({
      parts: [...run.parts.values()],
      stats: { workers: this.alive, computeMs, commMs, commAllMs: run.commMs + transferMs, waitMs: 0, bytes: run.bytes, redealt: run.redealt },
    });
  }

  // ---- status endpoint -------------------------------------------------------------------------

  private httpStatus(req: IncomingMessage, res: ServerResponse): void {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/status') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!tokenMatches(token, this.o.token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('token required (Authorization: Bearer TOKEN)\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(this.status())}\n`);
  }
}
