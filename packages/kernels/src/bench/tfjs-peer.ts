/**
 * Loads @tensorflow/tfjs with its WebGPU backend on Dawn (the `webgpu` package), the peer the
 * benchmarks compare against. Both are devDependencies of this package: they are imported
 * by computed specifiers so that a build without them still compiles and runs without peers.
 */
import { IdleWait } from '@crnn/core';
import type { PeerEnv } from './harness.js';
import type { Tf } from './types.js';

/** The parts of tfjs-backend-webgpu's WebGPUBackend (4.x) the harness relies on. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  adapterInfo?: { vendor?: string; architecture?: string };
}

async function importLoose(spec: string): Promise<Tf> {
  return import(/* @vite-ignore */ spec);
}

/**
 * tfjs-backend-webgpu looks for `navigator.gpu` when it is imported (Node 20 has no
 * navigator; Node 21+ has one without `gpu`), and uses the GPUBufferUsage-style globals.
 */
async function installNavigatorGpu(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const nav = g.navigator as { gpu?: GPU } | undefined;
  if (nav?.gpu) return;
  process.env.XDG_RUNTIME_DIR ??= `/tmp/xdg-runtime-${process.getuid?.() ?? 0}`;
  const dawn = (await importLoose('webgpu')) as { create(o: string[]): GPU; globals: Record<string, unknown> };
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create([]);
  if (nav && Object.isExtensible(nav)) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * tfjs on its 'webgpu' backend, on its own Dawn device (same adapter as ours). Throws with the
 * reason when it cannot start; the caller then runs without peers.
 */
export async function loadTfPeer(idleWait: boolean): Promise<PeerEnv & { description: string }> {
  await installNavigatorGpu();
  const tf = await importLoose('@tensorflow/tfjs');
  await importLoose('@tensorflow/tfjs-backend-webgpu');
  const ok: boolean = await tf.setBackend('webgpu');
  if (!ok || tf.getBackend() !== 'webgpu') throw new Error(`tf.setBackend('webgpu') failed (backend: ${String(tf.getBackend())})`);
  await tf.ready();
  // By default tfjs computes an op on the CPU when all its inputs are small (< 128 values) and
  // not yet uploaded. In training every input is the GPU output of an earlier op, so the
  // peer runs everything on the GPU, as ours does.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const b = tf.backend() as WebGpuBackendInternals;
  const idle = new IdleWait(idleWait);
  if (typeof b.endComputePassEncoder !== 'function' || typeof b.submitQueue !== 'function' || !b.device) {
    throw new Error('tfjs-backend-webgpu internals (endComputePassEncoder/submitQueue/device) not found: unsupported version');
  }
  const info = b.adapterInfo ? [b.adapterInfo.vendor, b.adapterInfo.architecture].filter(Boolean).join(' / ') : '';
  return {
    name: 'tfjs-webgpu',
    description: `@tensorflow/tfjs ${String(tf.version?.tfjs ?? '?')} on its webgpu backend${info ? ` (${info})` : ''}`,
    tf,
    // tfjs batches dispatches into one compute pass and submits every
    // WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches; what is still open when run() returns is
    // submitted here, the same point at which ours is submitted, then the queue is drained.
    // Awaiting `.data()` instead would add a readback that our side does not do.
    // The wait goes through the same IdleWait as ours (sleep first on a software adapter in
    // Node), so that neither side's timing includes Dawn's spinning JS thread.
    async flush(key = '') {
      const since = performance.now();
      b.endComputePassEncoder();
      if (b.commandEncoder) b.submitQueue();
      await idle.wait(key, since, () => b.device.queue.onSubmittedWorkDone());
    },
    close() {
      try {
        tf.engine().reset();
      } catch {
        /* best effort */
      }
      b.device.destroy();
    },
  };
}
