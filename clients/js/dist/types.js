// The shapes the server sends (as in its schema.graphql) and the snapshots this client hands to its users.
export const FINAL_STATUSES = new Set(["DONE", "ERROR", "TIMEOUT", "CANCELLED"]);
export function isFinal(status) {
    return FINAL_STATUSES.has(status);
}
