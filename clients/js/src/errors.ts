// The server's refusals (GraphQL errors with extensions.code) and failures to reach it, as one error type.

interface GraphQLErrorLike {
  message?: unknown;
  extensions?: { code?: unknown; retryAfter?: unknown } | null;
}

export class PersistreamError extends Error {
  /** The contract's `extensions.code` (NOT_FOUND, UNAUTHENTICATED, RATE_LIMITED...), or null when the server
   * could not be reached or answered outside GraphQL. */
  readonly code: string | null;
  /** For RATE_LIMITED: the whole number of seconds to wait. */
  readonly retryAfter: number | null;

  constructor(message: string, code: string | null = null, retryAfter: number | null = null) {
    super(message);
    this.name = "PersistreamError";
    this.code = code;
    this.retryAfter = retryAfter;
  }

  static fromGraphQL(errors: readonly GraphQLErrorLike[]): PersistreamError {
    const first = errors[0];
    const message = errors.map((e) => String(e.message ?? "")).filter(Boolean).join(" ");
    const code = typeof first?.extensions?.code === "string" ? first.extensions.code : null;
    const retry = first?.extensions?.retryAfter;
    return new PersistreamError(message || "The server refused the request.", code, typeof retry === "number" ? retry : null);
  }
}
