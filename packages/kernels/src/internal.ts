// Sibling-only API: test helpers for packages that build on the kernels (models, trainer).
export * from './testing.js';
export * from './validate.js';
