/**
 * What a recording adapter keeps in memory for tests and the demo to inspect: the most recent
 * entries only. A worker left on recording adapters (a dry-run launch without credentials)
 * runs for months; everything it records is in the ledger and the log already.
 */
export const RECORDING_KEEP = 1000;

export function keepRecent<T>(list: T[], item: T, max = RECORDING_KEEP): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
