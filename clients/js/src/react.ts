// useStream: one stream's snapshot as React state.
//
// Safe under StrictMode: the stream is made in an effect and closed in its cleanup, so the extra mount and
// unmount StrictMode adds closes the first stream before its socket is even connected (its streamChat is never
// sent), and the server's atomic claim runs the model once whatever happens. Safe when `streamId` changes: the
// state is keyed by the id it belongs to, so the old stream's text never renders under the new id, not even in
// the render before the effect switches streams.

import { useEffect, useState } from "react";

import type { PersistreamClient } from "./client.js";
import type { StreamOptions } from "./stream.js";
import type { ConnectionState, Part, Snapshot, StreamStatus, Usage } from "./types.js";

export interface UseStreamOptions extends StreamOptions {}

export interface StreamState {
  text: string;
  offset: number;
  /** null while there is no stream id. */
  status: StreamStatus | null;
  /** The stream's own error (ERROR, TIMEOUT), or why it could not be followed (NOT_FOUND...). */
  error: string | null;
  /** Every part so far (reasoning, tool calls and results, text), in order; unchanged parts keep their identity. */
  parts: Part[];
  /** The last resume point received (or the initial body's). */
  cursor: string | null;
  /** The model's token counts, once final, when it reported them. */
  usage: Usage | null;
  connection: ConnectionState;
}

const IDLE: StreamState = {
  text: "",
  offset: 0,
  status: null,
  error: null,
  parts: [],
  cursor: null,
  usage: null,
  connection: "connecting",
};

export function useStream(
  client: PersistreamClient,
  streamId: string | null | undefined,
  options: UseStreamOptions = {},
): StreamState {
  const { drive = false, shareToken = null } = options;
  const [held, setHeld] = useState<{ key: string; state: StreamState } | null>(null);
  const key = streamId ? `${streamId}\u0000${drive}\u0000${shareToken ?? ""}` : "";
  // The initial body only seeds a new stream; a fresh object on every render must not restart it.
  const initial = options.initial;

  useEffect(() => {
    if (!streamId) return;
    const stream = client.stream(streamId, { drive, shareToken, initial });
    const stop = stream.subscribe(
      (snapshot: Snapshot) => setHeld({ key, state: snapshot }),
      (error) => setHeld((prev) => ({ key, state: { ...(prev?.key === key ? prev.state : IDLE), error: error.message } })),
    );
    return () => {
      stop();
      stream.close();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, key]);

  if (!streamId) return IDLE;
  if (held?.key !== key) {
    return {
      ...IDLE,
      status: initial?.status ?? "PENDING",
      text: initial?.text ?? "",
      offset: initial?.offset ?? 0,
      parts: initial?.parts ?? IDLE.parts,
      cursor: initial?.cursor ?? null,
      usage: initial?.usage ?? null,
    };
  }
  return held.state;
}
