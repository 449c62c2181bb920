export { getDevice, type DeviceInfo, type DeviceOptions, type DeviceFeatures } from './device.js';
export { Runtime, getRuntime, f32, i32, type Kernel, type Param, type DispatchArgs, type RuntimeStats } from './runtime.js';
export { Tensor, shapeSize, checkShape } from './tensor.js';
export { IdleWait, idleWaitWanted } from './idle-wait.js';
export { BufferPool, sizeClass, type PoolCounters } from './buffer-pool.js';
export { DTYPE_BYTES, f32ToF16Bits, f16BitsToF32, type DType, type HostArray } from './dtype.js';
export { Rng, detLog, detCos2Pi, type RngState } from './rng.js';
export {
  CrnnError,
  NoAdapterError,
  DeviceLostError,
  KernelCompileError,
  KernelValidationError,
  OpInputError,
} from './errors.js';
export { BufferUsage, MapMode } from './usage.js';
