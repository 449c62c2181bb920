/**
 * Typed errors. Each names the op (or kernel), what was expected and what was found, so a
 * user can tell from the message alone where a bad shape, a bad file or a lost device came from.
 */
export class CrnnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No WebGPU adapter: says what to install. */
export class NoAdapterError extends CrnnError {
  constructor(detail: string) {
    super(
      `no WebGPU adapter found (${detail}). Install a Vulkan driver: on Debian bookworm run ` +
        `'bash scripts/setup.sh' as root, which installs mesa-vulkan-drivers (lavapipe, Mesa 24+) ` +
        `and libvulkan1 from bookworm-backports; in a browser, enable WebGPU.`,
    );
  }
}

/** The device was lost (driver reset, destroy(), out of memory): no further work is possible. */
export class DeviceLostError extends CrnnError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`WebGPU device lost (${reason}): ${detail || 'no message'}`);
  }
}

/** A WGSL shader failed to compile or its pipeline failed to build. */
export class KernelCompileError extends CrnnError {
  constructor(
    readonly kernel: string,
    detail: string,
  ) {
    super(`kernel '${kernel}' failed to compile: ${detail}`);
  }
}

/** WebGPU reported a validation error for work recorded by these kernels. */
export class KernelValidationError extends CrnnError {
  constructor(
    readonly kernels: readonly string[],
    detail: string,
  ) {
    const names = [...new Set(kernels)];
    const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
    super(`WebGPU validation error in a submit of kernel(s) [${shown}]: ${detail}`);
  }
}

/** Bad input to an op: wrong rank, mismatched shapes, non-positive sizes, out-of-range lengths. */
export class OpInputError extends CrnnError {
  constructor(
    readonly op: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${op}: expected ${expected}, found ${found}`);
  }
}
