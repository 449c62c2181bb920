/**
 * `npm run bench -- [filter ...] [--json] [--no-peer] ...` (see USAGE in harness.ts): times
 * every BenchSpec of src/bench/all.ts on our runtime next to tfjs-backend-webgpu, and prints
 * one line (or one JSON object) per bench. Diagnostics go to stderr, so that `--json` leaves
 * stdout with JSON lines only (use `npm run -s bench -- --json` to drop npm's banner too).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Runtime, idleWaitWanted } from '@crnn/core';
import { benchModules } from './all.js';
import { BENCH_DAWN_FLAGS, formatHeader, formatJson, formatLine, loadSpecs, parseArgs, runBench, type CliArgs, type PeerEnv } from './harness.js';
import { loadTfPeer } from './tfjs-peer.js';

const note = (s: string): void => void process.stderr.write(`${s}\n`);

/**
 * The machine the figures belong to. On a software adapter the "GPU" is this CPU, and VMs of
 * the same nominal size differ by about 2x between hosts (BENCHMARKS.md), so the header names
 * the CPU: its model and, on x86 Linux, its family / model / stepping and which of FMA, AVX2
 * and AVX-512F it has (lavapipe JITs for the host's vector extensions).
 */
function hostDescription(): string {
  const list = cpus();
  const parts = [`${list.length} CPUs`, list[0]?.model.trim() || 'unknown CPU'];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string) => new RegExp(`^${name}\\s*: (.*)$`, 'm').exec(info)?.[1]?.trim();
    const fms = [field('cpu family'), field('model'), field('stepping')];
    if (fms.every((v) => v !== undefined)) parts.push(`family ${fms[0]} model ${fms[1]} stepping ${fms[2]}`);
    const flags = field('flags'); // x86 only (ARM lists 'Features')
    if (flags !== undefined) {
      const have = new Set(flags.split(' '));
      parts.push(['fma', 'avx2', 'avx512f'].filter((f) => have.has(f)).join(' ') || 'no fma/avx2/avx512f');
    }
  } catch {
    // No /proc/cpuinfo (not Linux): the model name is all there is.
  }
  return `host: ${parts.join(', ')}; node ${process.version}`;
}

async function main(args: CliArgs): Promise<number> {
  const started = performance.now();
  const { specs, failed } = await loadSpecs(benchModules, args.filters, note);
  if (args.list) {
    for (const s of specs) process.stdout.write(`${s.kernel}\t${s.shape}${s.peer ? '' : '\t(no peer)'}\n`);
    return failed ? 1 : 0;
  }
  if (specs.length === 0) {
    note(`bench: no bench matches ${args.filters.length ? args.filters.join(', ') : '(no filter)'}`);
    return 1;
  }
  const rt = await Runtime.create({ dawnFlags: BENCH_DAWN_FLAGS });
  const info = `adapter: ${rt.adapterName}; GPU time: ${rt.canTime ? 'timestamp queries' : 'none (no timestamp-query)'}`;
  let peer: PeerEnv | null = null;
  let peerInfo = 'peer: none (--no-peer)';
  if (args.peers && specs.some((s) => s.peer)) {
    try {
      const p = await loadTfPeer(idleWaitWanted(rt.info));
      peer = p;
      peerInfo = `peer: ${p.description}`;
    } catch (e) {
      peerInfo = `peer: none: tfjs did not start: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  const o = args.opts;
  const method = `ms = median wall time per run (run() to onSubmittedWorkDone on both sides, waited for without spinning on a software adapter), after warm-up; ${o.minReps}-${o.maxReps} runs within ~${o.budgetMs} ms per side, ${o.blockMs > 0 ? `in blocks of ~${o.blockMs} ms` : 'run by run'} alternating between the sides (short runs after an unmeasured one); gpu ms from up to ${o.gpuReps} further timestamped runs`;
  const say = args.json ? note : (s: string) => void process.stdout.write(`${s}\n`);
  say(hostDescription());
  say(info);
  say(peerInfo);
  say(method);
  if (!args.json) say(formatHeader());
  let errors = failed;
  for (const spec of specs) {
    if ((performance.now() - started) / 1000 > args.maxSeconds) {
      note(`bench: --max-seconds=${args.maxSeconds} reached; skipped ${spec.kernel} ${spec.shape} and the rest`);
      errors++;
      break;
    }
    const r = await runBench(rt, spec, peer, o);
    if (r.error) errors++;
    process.stdout.write(`${args.json ? formatJson(r) : formatLine(r)}\n`);
  }
  say(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  peer?.close();
  rt.destroy();
  return errors ? 1 : 0;
}

let args: CliArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  note(e instanceof Error ? e.message : String(e));
  process.exit(2);
}
main(args).then(
  (code) => process.exit(code),
  (e: unknown) => {
    note(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
