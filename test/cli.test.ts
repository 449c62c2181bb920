// crnn-cli end to end: train on generated data, predict, eval, models, summary, errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const cli = (...args: string[]) => spawnSync('node', [resolve(root, 'packages/cli/dist/bin.js'), ...args], { encoding: 'utf8', env: { ...process.env } });

describe('crnn-cli', () => {
  it('models --json lists the zoo with parameter counts', () => {
    const r = cli('models', '--json');
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; params: number });
    expect(rows.find((m) => m.name === 'crnn')?.params).toBe(8_723_749);
    expect(rows.map((m) => m.name)).toEqual(expect.arrayContaining(['crnn', 'crnn-strided', 'crnn-ce', 'crnn-wide', 'crnn-wide-gru', 'captcha-keras', 'crnn-tiny']));
  });

  it('summary prints layers, shapes and the total', () => {
    const r = cli('summary', 'crnn', '--batch', '8');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/map_to_sequence\s+\[24, 8, 512\]/);
    expect(r.stdout).toMatch(/Total params: 8,723,749/);
  });

  it('trains, then predicts and evaluates with the saved model', () => {
    const out = mkdtempSync(join(tmpdir(), 'cli-train-'));
    const t = cli('train', '--generated', '40', '--height', '16', '--width', '72', '--batch', '8', '--epochs', '1', '--out', out, '--quiet');
    expect(t.status, t.stderr).toBe(0);
    const summary = JSON.parse(t.stdout.trim().split('\n').pop()!);
    expect(summary.epochs).toBe(1);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['model.safetensors', 'model.json', 'metrics.csv', 'curves.png', 'checkpoint']));

    // A folder of images named by label, drawn as PNGs: eval --json and predict --json.
    const data = mkdtempSync(join(tmpdir(), 'cli-data-'));
    const png = new pngjs.PNG({ width: 72, height: 16 });
    for (let i = 0; i < png.data.length; i += 4) png.data.fill(i % 9 === 0 ? 0 : 255, i, i + 3), (png.data[i + 3] = 255);
    writeFileSync(join(data, '123.png'), pngjs.PNG.sync.write(png));
    writeFileSync(join(data, '4567.png'), pngjs.PNG.sync.write(png));
    const e = cli('eval', '--model', out, '--data', data, '--json');
    expect(e.status, e.stderr).toBe(0);
    const m = JSON.parse(e.stdout.trim());
    expect(Object.keys(m)).toEqual(['samples', 'cer', 'accuracy', 'ned']);
    expect(m.samples).toBe(2);
    const p = cli('predict', '--model', out, join(data, '123.png'), '--json');
    expect(p.status, p.stderr).toBe(0);
    const pr = JSON.parse(p.stdout.trim());
    expect(typeof pr.text).toBe('string');
    expect(pr.confidence).toBeGreaterThanOrEqual(0);
    expect(pr.confidence).toBeLessThanOrEqual(1);
    const b = cli('predict', '--model', out, join(data, '123.png'), '--beam', '4', '--json');
    expect(b.status, b.stderr).toBe(0);
    // A corrupt image: a one-line error for it, exit code 1.
    writeFileSync(join(data, 'bad.png'), 'not a png');
    const bad = cli('predict', '--model', out, join(data, 'bad.png'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/bad\.png/);
  });

  it('exits non-zero with a one-line reason on bad input', () => {
    const cases: Array<[string[], RegExp]> = [
      [['train', '--batch', '0'], /field 'batch'/],
      [['train', '--frobnicate'], /frobnicate/],
      [['train', '--data', '/nonexistent/folder'], /nonexistent/],
      [['predict', '--model', '/nonexistent', 'x.png'], /nonexistent/],
      [['summary', 'resnet'], /expected one of crnn/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('crnn-cli'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(re);
    }
  });

  it('--help works for every command', () => {
    for (const c of ['train', 'eval', 'predict', 'info']) {
      const r = cli(c, '--help');
      expect(r.status, c).toBe(0);
      expect(r.stdout).toMatch(/Usage: crnn-cli/);
    }
  });
});
