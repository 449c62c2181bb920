import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Runtime } from '@crnn/core';
import { kernelGoldenHandlers, runGolden, type GoldenHandler } from '@crnn/kernels/golden';
import { modelGoldenHandlers } from '@crnn/models/golden';

/** The project's default: ../shared/golden beside the repository root. */
export function defaultGoldenDir(): string {
  return process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../shared/golden');
}

/** Every handler the project has: kernel ops and whole-model cases. */
export function allGoldenHandlers(): Record<string, GoldenHandler> {
  return { ...kernelGoldenHandlers, ...modelGoldenHandlers };
}

/**
 * `crnn-cli golden [DIR]`: runs every case file in DIR on the GPU, one line per case, then
 * `N passed, M failed`. Unknown ops count as failures. Exit code 1 on any failure.
 */
export async function goldenCommand(args: string[]): Promise<number> {
  const dir = resolve(args.find((a) => !a.startsWith('-')) ?? defaultGoldenDir());
  if (!existsSync(dir)) {
    console.error(`crnn-cli golden: no such folder: ${dir} (pass a folder or set GOLDEN_DIR)`);
    return 2;
  }
  const rt = await Runtime.create();
  try {
    const { passed, failed } = await runGolden(rt, dir, allGoldenHandlers(), (line) => console.log(line));
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
  } finally {
    rt.destroy();
  }
}
