export * from './golden.js';
export { kernelGoldenHandlers } from './handlers.js';
