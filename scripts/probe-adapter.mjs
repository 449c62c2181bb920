// Prints the name of the WebGPU adapter Dawn finds and exits 0; exits 3 when there is none.
// Used by scripts/setup.sh, so it depends on nothing but the `webgpu` package.
import { create } from 'webgpu';

process.env.XDG_RUNTIME_DIR ??= `/tmp/xdg-runtime-${process.getuid?.() ?? 0}`;
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(3);
}
const info = adapter.info ?? {};
console.log(`${info.description || info.device || info.vendor || 'unknown adapter'} (${info.architecture || info.vendor || 'unknown'})`);
process.exit(0);
