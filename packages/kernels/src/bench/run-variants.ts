/**
 * `node packages/kernels/dist/bench/run-variants.js [filter] [--json] [--reps=N]`: GPU time of
 * every kernel variant that can run each benchmark shape (variants.ts), the one 'auto' picks
 * on this adapter marked with *. Medians of timestamped runs after warm-up, with Dawn's
 * timestamp quantization turned off; an adapter without timestamp queries prints nothing.
 */
import { Runtime } from '@crnn/core';
import { BENCH_DAWN_FLAGS } from './harness.js';
import { timeCase, variantCases } from './variants.js';

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const reps = Number(argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 15);
  const filter = argv.find((a) => !a.startsWith('--'));
  const re = filter ? new RegExp(filter) : null;
  const rt = await Runtime.create({ dawnFlags: BENCH_DAWN_FLAGS });
  process.stderr.write(`adapter: ${rt.adapterName}${rt.info.isSoftware ? ' (software)' : ''}\n`);
  if (!rt.canTime) {
    process.stderr.write('variants: this adapter has no timestamp queries\n');
    return 1;
  }
  const cases = variantCases(rt).filter((c) => !re || re.test(`${c.group} ${c.shape} ${c.variant}`));
  let failed = 0;
  for (const c of cases) {
    let ms: number | null = null;
    let error = '';
    try {
      ms = await timeCase(rt, c, reps);
    } catch (e) {
      failed++;
      error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    }
    const gflops = ms && c.flops ? c.flops / ms / 1e6 : null;
    if (json) process.stdout.write(`${JSON.stringify({ group: c.group, shape: c.shape, variant: c.variant, auto: c.auto, gpu_ms: ms, gflops, error: error || undefined })}\n`);
    else {
      const v = `${c.variant}${c.auto ? '*' : ''}`;
      const figs = ms === null ? `error: ${error}` : `${ms.toFixed(3).padStart(9)} ms${gflops ? `${gflops.toFixed(0).padStart(7)} GFLOP/s` : ''}`;
      process.stdout.write(`${c.group.padEnd(22)} ${c.shape.padEnd(36)} ${v.padEnd(12)} ${figs}\n`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
process.exit();
