// The runtime and kernels in a real browser: Debian's Chromium, headless, WebGPU on
// SwiftShader, driven by playwright-core. The page gets the same code as Node, bundled by
// esbuild, and reaches the GPU through navigator.gpu.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: Server;
let browser: Browser;
let url = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run 'bash scripts/setup.sh --browser' (installs Debian's chromium)`);
  const bundle = await build({
    entryPoints: [resolve(import.meta.dirname, 'entry.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    external: ['node:*'],
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  const html = '<!doctype html><meta charset="utf-8"><title>crnn-webgpu</title><script type="module" src="/bundle.js"></script>';
  server = createServer((req, res) => {
    if (req.url === '/bundle.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-webgpu-adapter=swiftshader',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((ok) => server?.close(ok));
});

describe('in a browser page', () => {
  it('runs the kernels through navigator.gpu with the results of Node', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => typeof (globalThis as { runBrowserSmoke?: unknown }).runBrowserSmoke === 'function');
    const r = await page.evaluate(() => (globalThis as unknown as { runBrowserSmoke: () => Promise<Record<string, unknown>> }).runBrowserSmoke());
    expect(errors).toEqual([]);
    expect(r.platform).toBe('browser');
    expect(String(r.adapter).length).toBeGreaterThan(0);
    expect(r.relu).toEqual([0, 0, 0, 1, 2]);
    expect(r.matmul).toEqual(r.matmulWant);
  });
});
