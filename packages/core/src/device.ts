import { NoAdapterError } from './errors.js';

export interface DeviceFeatures {
  shaderF16: boolean;
  timestampQuery: boolean;
  subgroups: boolean;
}

export interface DeviceInfo {
  device: GPUDevice;
  adapterName: string;
  /** True for CPU implementations (lavapipe, SwiftShader, WARP): tuning differs there. */
  isSoftware: boolean;
  platform: 'node' | 'browser';
  features: DeviceFeatures;
  limits: GPUSupportedLimits;
}

export interface DeviceOptions {
  /** A `GPU` object to use instead of `navigator.gpu` or Dawn's (tests, custom setups). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Ask for these optional features when the adapter has them (default: all three). */
  wantFeatures?: Array<'shader-f16' | 'timestamp-query' | 'subgroups'>;
  /**
   * Node only: flags for Dawn's `create()` (the `webgpu` package), such as
   * 'disable-dawn-features=timestamp_quantization' for benchmarks. One Dawn instance is
   * made per distinct set of flags and kept for the process.
   */
  dawnFlags?: readonly string[];
  /**
   * Ask for at most these limits (the adapter's maximum is asked for otherwise); a cap under
   * WebGPU's default gets the default. Tests use it to see the same limits on every adapter:
   * lavapipe's 128 MiB storage binding and an H100's 2 GiB put the same shape on different
   * kernels.
   */
  limitCaps?: Partial<Record<(typeof LIMITS_AT_MAX)[number], number>>;
}

// Limits requested at the adapter's maximum: large storage buffers (conv weights, LSTM
// activations over time) and big workgroups are needed on real GPUs, and asking for what the
// adapter offers is always valid.
const LIMITS_AT_MAX = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxUniformBufferBindingSize',
] as const;

const nodeGpus = new Map<string, GPU>();

async function findGpu(dawnFlags: readonly string[]): Promise<{ gpu: GPU; platform: 'node' | 'browser' }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) {
    if (!nav?.gpu) throw new NoAdapterError('navigator.gpu is undefined: this browser has no WebGPU');
    return { gpu: nav.gpu, platform: 'browser' };
  }
  const key = dawnFlags.join('\n');
  let nodeGpu = nodeGpus.get(key);
  if (!nodeGpu) {
    // XDG_RUNTIME_DIR unset makes Mesa print a warning on every start.
    process.env.XDG_RUNTIME_DIR ??= `/tmp/xdg-runtime-${process.getuid?.() ?? 0}`;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
    // A computed specifier keeps bundlers from pulling Dawn into a browser build.
    const spec = 'webgpu';
    const mod = (await import(/* @vite-ignore */ spec)) as { create(o: string[]): GPU; globals: object };
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    nodeGpu = mod.create([...dawnFlags]);
    nodeGpus.set(key, nodeGpu);
  }
  return { gpu: nodeGpu, platform: 'node' };
}

/** One entry point for Node (Dawn) and the browser (navigator.gpu). */
export async function getDevice(opts: DeviceOptions = {}): Promise<DeviceInfo> {
  const found = opts.gpu ? { gpu: opts.gpu, platform: 'node' as const } : await findGpu(opts.dawnFlags ?? []);
  const adapter = await found.gpu.requestAdapter(
    opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined,
  );
  if (!adapter) throw new NoAdapterError('requestAdapter() returned null');

  const want = opts.wantFeatures ?? ['shader-f16', 'timestamp-query', 'subgroups'];
  const requiredFeatures = want.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_AT_MAX) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    const cap = opts.limitCaps?.[name];
    if (typeof v === 'number') requiredLimits[name] = cap === undefined ? v : Math.min(v, cap);
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info;
  const adapterName = [info.description, info.vendor, info.architecture].filter(Boolean).join(' / ') || 'unknown';
  const isSoftware = /llvmpipe|lavapipe|swiftshader|warp|software/i.test(
    `${info.description} ${info.device} ${info.architecture} ${info.vendor}`,
  );
  return {
    device,
    adapterName,
    isSoftware,
    platform: found.platform,
    features: {
      shaderF16: device.features.has('shader-f16'),
      timestampQuery: device.features.has('timestamp-query'),
      subgroups: device.features.has('subgroups'),
    },
    limits: device.limits,
  };
}
