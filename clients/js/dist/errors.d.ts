interface GraphQLErrorLike {
    message?: unknown;
    extensions?: {
        code?: unknown;
        retryAfter?: unknown;
    } | null;
}
export declare class PersistreamError extends Error {
    /** The contract's `extensions.code` (NOT_FOUND, UNAUTHENTICATED, RATE_LIMITED...), or null when the server
     * could not be reached or answered outside GraphQL. */
    readonly code: string | null;
    /** For RATE_LIMITED: the whole number of seconds to wait. */
    readonly retryAfter: number | null;
    constructor(message: string, code?: string | null, retryAfter?: number | null);
    static fromGraphQL(errors: readonly GraphQLErrorLike[]): PersistreamError;
}
export {};
