// The flat table of golden-case handlers for kernel ops: op name -> handler. Each op's
// handler lives in its folder as `<op>.golden.ts`.
import type { GoldenHandler } from './golden.js';
import { linearGolden } from '../matmul/matmul.golden.js';

export const kernelGoldenHandlers: Readonly<Record<string, GoldenHandler>> = {
  linear: linearGolden,
};
