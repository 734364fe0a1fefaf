// The server's refusals (GraphQL errors with extensions.code) and failures to reach it, as one error type.
export class PersistreamError extends Error {
    /** The contract's `extensions.code` (NOT_FOUND, UNAUTHENTICATED, RATE_LIMITED...), or null when the server
     * could not be reached or answered outside GraphQL. */
    code;
    /** For RATE_LIMITED: the whole number of seconds to wait. */
    retryAfter;
    constructor(message, code = null, retryAfter = null) {
        super(message);
        this.name = "PersistreamError";
        this.code = code;
        this.retryAfter = retryAfter;
    }
    static fromGraphQL(errors) {
        const first = errors[0];
        const message = errors.map((e) => String(e.message ?? "")).filter(Boolean).join(" ");
        const code = typeof first?.extensions?.code === "string" ? first.extensions.code : null;
        const retry = first?.extensions?.retryAfter;
        return new PersistreamError(message || "The server refused the request.", code, typeof retry === "number" ? retry : null);
    }
}
