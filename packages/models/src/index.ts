// Filled in by the models issue.
export {};
