// How long to wait before the n-th consecutive retry: doubling from `min` up to `max`, with up to 30 % jitter so
// many clients cut off at once do not all come back in the same instant.

export interface RetryDelay {
  /** The first retry's delay in ms (default 250). */
  min: number;
  /** The cap in ms (default 8000). */
  max: number;
}

export const DEFAULT_RETRY_DELAY: RetryDelay = { min: 250, max: 8000 };

export function backoff(retries: number, { min, max }: RetryDelay, random: () => number = Math.random): number {
  const base = Math.min(max, min * 2 ** Math.min(retries, 30));
  return Math.round(base * (1 + 0.3 * random()));
}
