// Filled in by the trainer issue.
export {};
