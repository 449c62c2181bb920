/**
 * The wire protocol: framing and validation (no GPU), then a live coordinator under attack:
 * a wrong token, a wrong protocol version, an oversized frame, out-of-order and malformed
 * messages, and 1000+ random and truncated frames from a fuzzing client, while a real worker
 * trains; each is rejected with a reason, and the weights equal an undisturbed run.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { parseTrainConfig } from '../train/config.js';
import { train } from '../train/train.js';
import { Coordinator, tokenMatches } from './coordinator.js';
import { spawnLocalWorkers, stopLocalWorkers } from './local.js';
import { runWorker } from './worker.js';
import { buildModel } from '@crnn/models';
import { checkResult, checkState, checkWork, decodeFrame, encodeFrame, encodeFrameChunks, encodeSideFrame, HELLO_MAX_BYTES, MsgType, PROTOCOL_VERSION, ProtocolError, type ModelSpec } from './protocol.js';
import { SideFiles } from './side-files.js';

const spec: ModelSpec = {
  name: 'crnn-tiny',
  hyper: { numClasses: 11, inChannels: 1, height: 8, width: 12 },
  seed: 0,
  params: [
    { name: 'a.weight', shape: [2, 3] },
    { name: 'b.bias', shape: [4] },
  ],
  buffers: [{ name: 'bn.running_mean', shape: [2] }],
};

describe('protocol framing', () => {
  it('round-trips tensors bit-exactly, with the version and step in the header', () => {
    const a = Float32Array.of(1.5, -0, NaN, Infinity, 3.4028234663852886e38, 1e-45);
    const b = Int32Array.of(-1, 2, 2147483647);
    const c = Float64Array.of(Math.PI);
    const buf = encodeFrame(MsgType.RESULT, 77, { k: 3 }, [a, b, c, new Float32Array(0)]);
    expect(buf.byteLength % 8).toBe(0);
    expect(buf.readUInt16LE(4)).toBe(PROTOCOL_VERSION);
    const f = decodeFrame(buf);
    expect(f.step).toBe(77);
    expect(f.meta).toEqual({ k: 3 });
    expect(Buffer.compare(Buffer.from(f.tensors[0]!.buffer, f.tensors[0]!.byteOffset, 24), Buffer.from(a.buffer))).toBe(0);
    expect(Array.from(f.tensors[1]!)).toEqual([-1, 2, 2147483647]);
    expect(f.tensors[2]![0]).toBe(Math.PI);
    expect(f.tensors[3]!.byteLength).toBe(0);
    // The fragment form (no copy of the tensors) concatenates to the same bytes.
    const { chunks, bytes } = encodeFrameChunks(MsgType.RESULT, 77, { k: 3 }, [a, b, c, new Float32Array(0)]);
    expect(bytes).toBe(buf.byteLength);
    expect(Buffer.compare(Buffer.concat(chunks), buf)).toBe(0);
    // Misaligned input (a frame inside a larger buffer at an odd offset) decodes too.
    const odd = Buffer.alloc(buf.byteLength + 1);
    buf.copy(odd, 1);
    expect(Array.from(decodeFrame(odd.subarray(1)).tensors[1]!)).toEqual([-1, 2, 2147483647]);
  });

  it('rejects bad magic, another version, unknown types, truncation, excess and bad JSON', () => {
    const good = encodeFrame(MsgType.HELLO, 0, { token: 't', name: 'n' }, [Float32Array.of(1, 2)]);
    const bad = (mutate: (b: Buffer) => Buffer | Uint8Array, re: RegExp) => {
      expect(() => decodeFrame(mutate(Buffer.from(good)))).toThrow(ProtocolError);
      expect(() => decodeFrame(mutate(Buffer.from(good)))).toThrow(re);
    };
    bad((b) => (b.writeUInt32LE(0, 0), b), /magic/);
    bad((b) => (b.writeUInt16LE(PROTOCOL_VERSION + 1, 4), b), /protocol version 2, expected 1/);
    bad((b) => (b.writeUInt16LE(99, 6), b), /unknown message type/);
    bad((b) => b.subarray(0, b.byteLength - 8), /truncated/);
    bad((b) => Buffer.concat([b, Buffer.alloc(8)]), /oversized/);
    bad((b) => b.subarray(0, 10), /truncated/);
    bad((b) => (b.writeUInt32LE(7, 20), b), /dtype code 7/);
    bad((b) => (b.writeUInt32LE(6, 24), b), /whole number/);
    bad((b) => (b.writeUInt32LE(0xffffffff, 16), b), /tensors exceed/);
    bad((b) => (b.fill(0x7b, 32, 36), b), /JSON/);
  });

  it('validates tensor counts, dtypes, byte lengths and label ids against the model', () => {
    const result = (tensors: Array<Float32Array | Float64Array>, hasGrad = [true, true], unit = { level: 0, index: 0, ks: [0] }) =>
      decodeFrame(encodeFrame(MsgType.RESULT, 1, { ...unit, computeMs: 1, hasGrad }, tensors));
    const ok = [new Float32Array(6), new Float32Array(4), new Float32Array(2), Float64Array.of(1)];
    expect(checkResult(result(ok), spec).ks).toEqual([0]);
    // A tree node's partial sum: one loss per micro-batch it covers, which must lie in the node.
    expect(checkResult(result([...ok.slice(0, 3), Float64Array.of(1, 2)], [true, true], { level: 1, index: 1, ks: [2, 3] }), spec).index).toBe(1);
    expect(() => checkResult(result([...ok.slice(0, 3), Float64Array.of(1, 2)], [true, true], { level: 1, index: 0, ks: [2, 3] }), spec)).toThrow(/outside tree node 1\/0/);
    expect(() => checkResult(result(ok, [true, true], { level: 1, index: 1, ks: [2, 3] }), spec)).toThrow(/losses\) has 8 bytes, expected 16/);
    expect(checkResult(result([new Float32Array(0), ...ok.slice(1)], [false, true]), spec).hasGrad).toEqual([false, true]);
    expect(() => checkResult(result(ok.slice(0, 3)), spec)).toThrow(/3 tensors, expected 4/);
    expect(() => checkResult(result([new Float32Array(5), ...ok.slice(1)]), spec)).toThrow(/a.weight\) has 20 bytes, expected 24/);
    expect(() => checkResult(result([new Float32Array(6), new Float32Array(4), new Float32Array(2), Float32Array.of(1, 2)]), spec)).toThrow(/is f32, expected f64/);
    expect(() => checkResult(result(ok, [true]), spec)).toThrow(/hasGrad/);
    expect(() => checkResult(decodeFrame(encodeFrame(MsgType.RESULT, 1, { level: 0, index: 0, ks: [-1], computeMs: 1, hasGrad: [true, true] }, ok)), spec)).toThrow(/metadata field 'ks.0'/);
    const work = (labels: number[], units = [{ level: 0, index: 0, ks: [0] }]) =>
      decodeFrame(encodeFrame(MsgType.WORK, 1, { items: [{ k: 0, n: 1, seed: 5, labelLengths: [labels.length] }], units }, [new Float32Array(96), Int32Array.from(labels)]));
    expect(checkWork(work([1, 10]), spec).items).toHaveLength(1);
    expect(() => checkWork(work([1], [{ level: 0, index: 1, ks: [1] }]), spec)).toThrow(/do not cover/);
    expect(() => checkWork(work([0, 3]), spec)).toThrow(/label id 0 outside/);
    expect(() => checkWork(work([11]), spec)).toThrow(/label id 11 outside/);
  });

  it('compares tokens in constant time, by digest', () => {
    expect(tokenMatches('secret', 'secret')).toBe(true);
    expect(tokenMatches('secreT', 'secret')).toBe(false);
    expect(tokenMatches('', 'secret')).toBe(false);
  });
});

describe('side files', () => {
  it('carry the tensor bytes of a frame bit-exactly, rewritten in place, and are checked like inline bytes', () => {
    const side = SideFiles.create();
    try {
      const a = Float32Array.of(1.5, -0, NaN, Infinity, 2, 3);
      const b = Float32Array.of(7, 8, 9, 10);
      const r = Float32Array.of(-1, 1);
      const f1 = encodeSideFrame(MsgType.STATE, 5, {}, [a, b, r], 'state-1.bin');
      expect(side.write('state-1.bin', f1.body)).toBe(f1.bodyBytes);
      const reader = new SideFiles(side.dir);
      const reads: string[] = [];
      const opt = { side: (file: string, bytes: number) => (reads.push(file), reader.read(file, bytes)) };
      const d = decodeFrame(f1.head, opt);
      expect(reads).toEqual(['state-1.bin']);
      expect(d.meta).toEqual({});
      expect(d.bytes).toBe(f1.head.byteLength + f1.bodyBytes);
      checkState(d, spec);
      expect(Buffer.from(d.tensors[0]!.buffer, d.tensors[0]!.byteOffset, 24).equals(Buffer.from(a.buffer))).toBe(true);
      expect(Array.from(d.tensors[2] as Float32Array)).toEqual([-1, 1]);
      // A shorter message into the same file: truncated to its new length, bytes in place.
      const f2 = encodeSideFrame(MsgType.RESULT, 5, { x: 1 }, [Float64Array.of(0.25)], 'state-1.bin');
      side.write('state-1.bin', f2.body);
      const d2 = decodeFrame(f2.head, opt);
      expect(Array.from(d2.tensors[0] as Float64Array)).toEqual([0.25]);
      expect(d2.meta).toEqual({ x: 1 });
      // Without a side reader the frame is refused; so are inline bytes next to a file name.
      expect(() => decodeFrame(f1.head)).toThrow(/did not agree to side files/);
      expect(() => decodeFrame(Buffer.concat([f1.head, Buffer.alloc(f1.bodyBytes)]), opt)).toThrow(/carries tensor bytes inline/);
      // A file of the wrong size, a missing file, a name with a path.
      writeFileSync(join(side.dir, 'state-1.bin'), Buffer.alloc(8));
      expect(() => decodeFrame(f1.head, opt)).toThrow(/has 8 bytes, the frame announces 48/);
      expect(() => decodeFrame(encodeSideFrame(MsgType.STATE, 5, {}, [a], 'gone.bin').head, opt)).toThrow(/side file gone.bin: ENOENT/);
      expect(() => decodeFrame(encodeSideFrame(MsgType.STATE, 5, {}, [a], '../x.bin').head, opt)).toThrow(/is not of the form/);
      expect(() => decodeFrame(encodeFrame(MsgType.STATE, 5, { _side: 3 }, []), opt)).toThrow(/not a file name/);
    } finally {
      side.dispose();
    }
    expect(existsSync(side.dir)).toBe(false);
  });
});

// ---- a live coordinator under attack -------------------------------------------------------------

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const logs: string[] = [];
const quiet = { log: (s: string) => void logs.push(s), warn: (s: string) => void logs.push(s), tty: false };
const tmp = () => mkdtempSync(join(tmpdir(), 'crnn-fuzz-'));
const cfg = (out: string, extra: Record<string, unknown> = {}) => parseTrainConfig({ generated: 40, height: 16, width: 72, batch: 8, epochs: 2, out, errorGrid: 0, quiet: true, ...extra });
const TOKEN = 'fuzz-test-token-0123456789';

interface Outcome {
  code: number;
  reason: string;
}

/** Opens a connection, optionally authenticates (waits for WELCOME), sends `frames`, returns how it was closed. */
function attack(url: string, o: { hello?: boolean; frames: Array<Buffer | string> }): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { maxPayload: 1 << 30 });
    let done = false;
    const finish = (x: Outcome) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(x);
      }
    };
    const timer = setTimeout(() => {
      ws.terminate();
      finish({ code: -1, reason: 'no close from the coordinator' });
    }, 10_000);
    const sendAll = () => {
      for (const f of o.frames) ws.send(f, { binary: typeof f !== 'string' });
    };
    ws.on('open', () => {
      if (o.hello) ws.send(encodeFrame(MsgType.HELLO, 0, { token: TOKEN, name: 'fuzzer' }));
      else sendAll();
    });
    ws.on('message', (data: Buffer) => {
      if (decodeFrame(data).type !== MsgType.WELCOME) return;
      if (o.hello) sendAll();
      else {
        // A mutation that is still a valid HELLO (a flipped letter of the name) is accepted.
        ws.close();
        finish({ code: 0, reason: 'accepted' });
      }
    });
    ws.on('close', (code, reason) => finish({ code, reason: reason.toString('utf8') }));
    ws.on('error', () => {
      /* the close event follows */
    });
  });
}

function statusOf(port: number, token: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/status', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a worker rejects malformed coordinator messages', () => {
  it('closes with a reason on a bad frame, a wrong version and a bad STATE, reconnects, and ends on BYE', async () => {
    const model = buildModel(rt, 'crnn-tiny', { numClasses: 6, height: 8, width: 12 }, 0);
    const spec: ModelSpec = {
      name: 'crnn-tiny',
      hyper: { numClasses: 6, inChannels: 1, height: 8, width: 12 },
      seed: 0,
      params: model.namedParameters().map(([name, p]) => ({ name, shape: [...p.value.shape] })),
      buffers: model.namedBuffers().map(([name, t]) => ({ name, shape: [...t.shape] })),
    };
    model.dispose();
    const welcome = encodeFrame(MsgType.WELCOME, 0, { workerId: 1, model: spec, heartbeatMs: 500, timeoutMs: 10_000, maxPayload: 1 << 20 });
    // What the fake coordinator sends after the HELLO, connection by connection.
    const scripts: Array<Array<Buffer>> = [
      [Buffer.from('garbage that is not a frame')],
      [encodeFrame(MsgType.WELCOME, 0, { workerId: 1 }, [], PROTOCOL_VERSION + 1)],
      [welcome, encodeFrame(MsgType.STATE, 1, {}, [new Float32Array(3)])],
      [welcome, encodeFrame(MsgType.WORK, 5, { items: [], units: [] })],
      [welcome, encodeFrame(MsgType.BYE, 0, { reason: 'done' })],
    ];
    const closes: Outcome[] = [];
    const { WebSocketServer } = await import('ws');
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    let n = 0;
    server.on('connection', (ws) => {
      const script = scripts[Math.min(n++, scripts.length - 1)]!;
      ws.once('message', () => script.forEach((f) => ws.send(f)));
      ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString('utf8') }));
    });
    const port = (server.address() as { port: number }).port;
    const r = await runWorker({ url: `ws://127.0.0.1:${port}`, token: 't', retryForSec: 20, runtime: rt, log: () => {} });
    server.close();
    expect(r.reason).toBe('done');
    expect(r.connections).toBe(5);
    expect(closes.slice(0, 4).map((c) => c.code)).toEqual([1008, 1008, 1008, 1008]);
    expect(closes[0]!.reason).toMatch(/not a CRNN protocol frame|truncated/);
    expect(closes[1]!.reason).toMatch(/protocol version 2, expected 1/);
    expect(closes[2]!.reason).toMatch(/STATE: 1 tensors, expected \d+/);
    expect(closes[3]!.reason).toMatch(/WORK before any STATE/);
  });
});

describe('a coordinator under attack keeps training', () => {
  it('rejects wrong tokens, versions, oversized, out-of-order and 1000+ fuzzed frames; the weights are unaffected', async () => {
    const ref = tmp();
    await train(cfg(ref), { ...quiet, runtime: rt });

    const out = tmp();
    const coordinator = new Coordinator({ token: TOKEN, heartbeatSec: 0.5, timeoutSec: 20, waitWorkersSec: 120, maxConnections: 256, log: quiet.log, warn: () => {} });
    const url = await coordinator.listen();
    const training = train(cfg(out), { ...quiet, runtime: rt, executor: coordinator });
    const outcomes: Array<{ what: string } & Outcome> = [];
    const hit = async (what: string, o: { hello?: boolean; frames: Array<Buffer | string> }) => outcomes.push({ what, ...(await attack(url, o)) });

    const hello = (token: string, version = PROTOCOL_VERSION) => encodeFrame(MsgType.HELLO, 0, { token, name: 'x' }, [], version);
    await hit('wrong token', { frames: [hello('not-the-token')] });
    await hit('wrong version', { frames: [hello(TOKEN, PROTOCOL_VERSION + 1)] });
    await hit('oversized before auth', { frames: [Buffer.alloc(HELLO_MAX_BYTES + 1)] });
    await hit('text frame', { frames: ['{"type":"hello"}'] });
    await hit('RESULT before HELLO', { frames: [encodeFrame(MsgType.RESULT, 0, { level: 0, index: 0, ks: [0], computeMs: 0, hasGrad: [] })] });
    await hit('out-of-order RESULT', { hello: true, frames: [encodeFrame(MsgType.RESULT, 999_999, { level: 0, index: 0, ks: [0], computeMs: 0, hasGrad: [] })] });
    await hit('second HELLO', { hello: true, frames: [hello(TOKEN)] });
    await hit('side file without agreement', { hello: true, frames: [encodeSideFrame(MsgType.RESULT, 0, { level: 0, index: 0, ks: [0], computeMs: 0, hasGrad: [] }, [Float64Array.of(0)], 'w1-n0-0.bin').head] });
    await hit('oversized after auth', { hello: true, frames: [Buffer.alloc(64 << 20)] });
    const named = outcomes.slice();
    expect(named.map((x) => [x.what, x.code])).toEqual(named.map((x) => [x.what, x.what.startsWith('oversized') ? 1009 : 1008]));
    expect(named.find((x) => x.what === 'wrong token')!.reason).toMatch(/wrong token/);
    expect(named.find((x) => x.what === 'wrong version')!.reason).toMatch(/protocol version 2, expected 1/);
    expect(named.find((x) => x.what === 'out-of-order RESULT')!.reason).toMatch(/RESULT for step 999999/);
    expect(named.find((x) => x.what === 'side file without agreement')!.reason).toMatch(/did not agree to side files/);

    // The status endpoint wants the token too.
    expect((await statusOf(coordinator.port, null)).status).toBe(401);
    const st = await statusOf(coordinator.port, TOKEN);
    expect(st.status).toBe(200);
    expect(JSON.parse(st.body).url).toBe(url);

    // Fuzz: random bytes, truncated and bit-flipped valid frames, garbage after a valid HELLO.
    const rng = new Rng(1234);
    const validResult = encodeFrame(MsgType.RESULT, 0, { level: 0, index: 0, ks: [0], computeMs: 1, hasGrad: [true] }, [new Float32Array(64), Float64Array.of(0)]);
    const validHello = hello(TOKEN);
    const fuzzFrame = (i: number): { hello: boolean; frame: Buffer } => {
      const kind = i % 4;
      if (kind === 0) {
        const b = Buffer.alloc(Math.floor(rng.next() * 300));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rng.next() * 256);
        return { hello: i % 8 === 0, frame: b };
      }
      if (kind === 1) return { hello: false, frame: validHello.subarray(0, Math.floor(rng.next() * (validHello.length - 1))) };
      const src = kind === 2 ? validResult : validHello;
      const b = Buffer.from(kind === 2 ? src.subarray(0, Math.floor(rng.next() * src.length)) : src);
      // Flip 1..4 header or table bytes (the magic stays, so validation goes past it).
      for (let f = 0; f < 1 + Math.floor(rng.next() * 4); f++) {
        if (b.length > 4) b[4 + Math.floor(rng.next() * Math.min(b.length - 4, 40))] ^= 1 + Math.floor(rng.next() * 255);
      }
      return { hello: kind === 2, frame: b };
    };
    let worker: ReturnType<typeof spawnLocalWorkers> = [];
    let fuzzed = 0;
    const fuzzOutcomes: Outcome[] = [];
    for (let i = 0; i < 1100; i++) {
      // A real worker joins a third of the way in: training goes on while the fuzzing does.
      if (i === 350) worker = spawnLocalWorkers(1, url, TOKEN, { log: quiet.log });
      const { hello: h, frame } = fuzzFrame(i);
      const r = await attack(url, { hello: h, frames: [frame] });
      fuzzOutcomes.push(r);
      fuzzed++;
    }
    try {
      await training;
    } finally {
      await stopLocalWorkers(worker);
    }
    expect(fuzzed).toBeGreaterThanOrEqual(1000);
    // Every fuzzed connection was closed by the coordinator with a policy or size reason
    // (or refused once training was over).
    const bad = fuzzOutcomes.filter((x) => ![1008, 1009, 1013, 0].includes(x.code));
    expect(bad, JSON.stringify(bad.slice(0, 3))).toEqual([]);
    expect(fuzzOutcomes.filter((x) => x.code === 1008).length).toBeGreaterThan(900);
    expect(fuzzOutcomes.filter((x) => x.code === 0).length).toBeLessThan(50);
    expect(coordinator.rejections.length).toBeGreaterThan(0);
    // Nothing was lost: the weights are those of an undisturbed run.
    for (const f of ['checkpoint/model.safetensors', 'checkpoint/optimizer.safetensors']) {
      expect(Buffer.compare(readFileSync(join(ref, f)), readFileSync(join(out, f))), `${f} differs`).toBe(0);
    }
  });
});
