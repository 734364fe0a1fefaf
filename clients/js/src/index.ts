export { createClient } from "./client.js";
export type { BranchOptions, ClientOptions, ConnectionParamsOption, PersistreamClient, SendOptions } from "./client.js";
export type { HeadersOption } from "./http.js";
export type { RetryDelay } from "./backoff.js";
export { Stream } from "./stream.js";
export type { ErrorListener, Listener, StreamOptions } from "./stream.js";
export { PersistreamError } from "./errors.js";
export { FINAL_STATUSES, isFinal } from "./types.js";
export type {
  ConnectionState,
  Message,
  Part,
  PartDelta,
  PartKind,
  Snapshot,
  StreamBody,
  StreamEvent,
  StreamStatus,
  Usage,
} from "./types.js";
