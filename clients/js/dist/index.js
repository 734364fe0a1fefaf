export { createClient } from "./client.js";
export { Stream } from "./stream.js";
export { PersistreamError } from "./errors.js";
export { FINAL_STATUSES, isFinal } from "./types.js";
