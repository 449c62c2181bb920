#!/usr/bin/env node
// `npm run bench -- [args]`: the kernel benchmarks (packages/kernels), or with `distributed` as
// the first argument the data-parallel training benchmark (packages/trainer).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const distributed = args[0] === 'distributed';
const entry = distributed ? 'packages/trainer/dist/distributed/bench.js' : 'packages/kernels/dist/bench/run.js';
const r = spawnSync(process.execPath, [join(root, entry), ...(distributed ? args.slice(1) : args)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
