// crnn-cli train --workers N, coordinator, worker and status, end to end on loopback.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '../dist/bin.js');
const cli = (args: string[], env: Record<string, string> = {}) => spawnSync('node', [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 150_000 });
const tiny = ['--generated', '40', '--height', '16', '--width', '72', '--batch', '8', '--epochs', '1', '--micro-batches', '4'];

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

describe('crnn-cli distributed', () => {
  it('train --workers 2 trains with local worker processes, same weights as in-process', () => {
    const a = mkdtempSync(join(tmpdir(), 'cli-dist-'));
    const b = mkdtempSync(join(tmpdir(), 'cli-dist-'));
    const t = cli(['train', ...tiny, '--workers', '2', '--out', a]);
    expect(t.status, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout.trim().split('\n').pop()!)).toMatchObject({ epochs: 1, steps: 4, workers: 2 });
    expect(t.stderr).toMatch(/workers 2 +compute [\d.]+s +comm [\d.]+s +wait [\d.]+s/);
    const u = cli(['train', ...tiny, '--out', b, '--quiet']);
    expect(u.status, u.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(join(a, 'checkpoint/model.safetensors')), readFileSync(join(b, 'checkpoint/model.safetensors')))).toBe(0);
    expect(readFileSync(join(a, 'metrics.csv'), 'utf8')).toMatch(/workers,step_s,compute_s,comm_s,wait_s,bytes_per_step/);
  });

  it('coordinator and worker run apart; status reports; a wrong token is refused', async () => {
    const port = await freePort();
    const out = mkdtempSync(join(tmpdir(), 'cli-dist-'));
    const env = { ...process.env, CRNN_TOKEN: 'cli-test-token' };
    const coord = spawn('node', [bin, 'coordinator', '--port', String(port), ...tiny, '--epochs', '3', '--out', out, '--wait-workers', '60'], { env });
    let coordOut = '';
    coord.stdout.on('data', (d: Buffer) => (coordOut += d.toString()));
    coord.stderr.on('data', (d: Buffer) => (coordOut += d.toString()));
    const exited = new Promise<number>((r) => coord.on('exit', (c) => r(c ?? -1)));
    // A worker with the wrong token is rejected and does not retry forever.
    const bad = cli(['worker', '--connect', `ws://127.0.0.1:${port}`, '--token', 'wrong', '--retry-for', '20']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/authentication failed: wrong token/);
    const worker = spawn('node', [bin, 'worker', '--connect', `ws://127.0.0.1:${port}`, '--name', 'apart'], { env });
    const workerExit = new Promise<number>((r) => worker.on('exit', (c) => r(c ?? -1)));
    // Status while training runs.
    let status = '';
    for (let i = 0; i < 100 && !/worker \d+ apart/.test(status); i++) {
      await new Promise((r) => setTimeout(r, 300));
      const s = cli(['status', '--connect', `ws://127.0.0.1:${port}`], { CRNN_TOKEN: 'cli-test-token' });
      if (s.status === 0) status = s.stdout;
    }
    expect(status).toMatch(/workers alive: 1/);
    expect(status).toMatch(/worker \d+ apart/);
    const denied = cli(['status', '--connect', `ws://127.0.0.1:${port}`, '--token', 'nope']);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/401/);
    expect(await exited, coordOut).toBe(0);
    expect(await workerExit).toBe(0);
    expect(coordOut).toMatch(/closing connection \d+ \(unauthenticated.*wrong token/);
    expect(JSON.parse(readFileSync(join(out, 'checkpoint/trainer.json'), 'utf8')).epoch).toBe(3);
  });

  it('--help works for the distributed commands; flags are checked', () => {
    for (const c of ['coordinator', 'worker', 'status']) {
      const r = cli([c, '--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: crnn-cli ${c}`));
    }
    expect(cli(['worker']).status).toBe(2);
    expect(cli(['coordinator', '--port', '1'], { CRNN_TOKEN: '' }).stderr).toMatch(/token is required/);
  });
});
