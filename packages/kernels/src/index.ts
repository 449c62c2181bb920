export * from './elementwise/elementwise.js';
