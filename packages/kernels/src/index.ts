export * from './elementwise/elementwise.js';
export * from './matmul/matmul.js';
