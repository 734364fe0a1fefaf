export interface RetryDelay {
    /** The first retry's delay in ms (default 250). */
    min: number;
    /** The cap in ms (default 8000). */
    max: number;
}
export declare const DEFAULT_RETRY_DELAY: RetryDelay;
export declare function backoff(retries: number, { min, max }: RetryDelay, random?: () => number): number;
