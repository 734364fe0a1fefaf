// How long to wait before the n-th consecutive retry: doubling from `min` up to `max`, with up to 30 % jitter so
// many clients cut off at once do not all come back in the same instant.
export const DEFAULT_RETRY_DELAY = { min: 250, max: 8000 };
export function backoff(retries, { min, max }, random = Math.random) {
    const base = Math.min(max, min * 2 ** Math.min(retries, 30));
    return Math.round(base * (1 + 0.3 * random()));
}
