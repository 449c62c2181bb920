/**
 * The one table of tests known to fail, each with its reason. A test may skip or tolerate a
 * failure only when it is listed here. Empty: every golden case and test passes.
 */
export const KNOWN_FAILURES: Readonly<Record<string, string>> = {};
