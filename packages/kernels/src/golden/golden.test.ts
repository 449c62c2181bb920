// Runs every case in GOLDEN_DIR (default ../shared/golden beside the project) whose op has a
// kernel handler here. Model-level cases (crnn_tiny) run from the integration tests.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCases, runCase } from './golden.js';
import { kernelGoldenHandlers } from './handlers.js';

const dir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

describe('golden cases', () => {
  it('the golden folder exists', () => {
    expect(existsSync(dir), `no golden folder at ${dir}; set GOLDEN_DIR`).toBe(true);
  });
  const cases = existsSync(dir) ? loadCases(dir).filter((c) => c.op in kernelGoldenHandlers) : [];
  for (const c of cases) {
    it(`${c.file.split('/').pop()} (${c.op})`, async () => {
      const r = await runCase(rt, c, kernelGoldenHandlers);
      expect(r.ok, r.message).toBe(true);
    });
  }
});
