// The one graphql-transport-ws socket a client shares between all its streams (the official graphql-ws client).
//
// graphql-ws's own retry would re-send every subscription with its first variables after a reconnect: a driver
// would ask for streamChat again and an observer for its old offset, and text would repeat. So it never retries
// here (retryAttempts: 0); each stream resubscribes by itself from the offset it holds (stream.ts).
//
// A socket can also die without closing (a sleeping laptop, a proxy that stops forwarding): the client pings
// every `keepAlive` ms and anything the server sends counts as a sign of life; a socket silent for `stallTimeout`
// ms is terminated, which every stream on it sees as a drop.

import { createClient, type Client, type FormattedExecutionResult, type Sink } from "graphql-ws/client";

/** Close codes after which a new connection would be refused the same way: the stream fails instead of retrying.
 * 1012 (server restarting), 1001, 1006, 4499 (our own watchdog) and every other code are retried. */
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4403, 4406, 4409, 4429, 4500]);

export interface CloseLike {
  code: number;
  reason?: string;
}

export function isCloseLike(value: unknown): value is CloseLike {
  return typeof value === "object" && value !== null && typeof (value as { code?: unknown }).code === "number";
}

export function isFatalClose(close: CloseLike): boolean {
  return FATAL_CLOSE_CODES.has(close.code);
}

export interface SocketOptions {
  url: string;
  connectionParams?: Record<string, unknown> | (() => Record<string, unknown> | Promise<Record<string, unknown>>);
  webSocketImpl?: unknown;
  keepAlive: number;
  stallTimeout: number;
  /** How long the socket stays open once nothing is followed any more. */
  idleTimeout: number;
}

/** One subscription on the socket. `onLost` is called once when the socket it ran on closed. */
export interface Operation {
  onLost(close: CloseLike | null): void;
}

export class Socket {
  private graphqlWs: Client | null = null;
  private connected = false;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly operations = new Set<Operation>();
  private readonly watchers = new Set<(connected: boolean) => void>();
  private disposed = false;

  constructor(private readonly options: SocketOptions) {}

  /** The graphql-ws client, made on first use: a program that only sends queries over HTTP needs no WebSocket. */
  private get client(): Client {
    if (this.graphqlWs) return this.graphqlWs;
    const options = this.options;
    this.graphqlWs = createClient({
      url: options.url,
      lazy: true,
      lazyCloseTimeout: options.idleTimeout,
      retryAttempts: 0,
      keepAlive: options.keepAlive,
      // A connection that opens but is never acknowledged is as dead as a silent one.
      connectionAckWaitTimeout: options.stallTimeout,
      ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      on: {
        // Armed from the first attempt: a connection that never opens (a black-holed route) is dead too.
        connecting: () => this.armWatchdog(),
        connected: () => {
          this.armWatchdog();
          this.setConnected(true);
        },
        message: () => this.armWatchdog(),
        closed: (event) => {
          clearTimeout(this.stallTimer);
          this.stallTimer = undefined;
          this.setConnected(false);
          const close = isCloseLike(event) ? event : null;
          for (const operation of [...this.operations]) {
            this.operations.delete(operation);
            operation.onLost(close);
          }
        },
      },
    });
    return this.graphqlWs;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Calls `watch(connected)` whenever the socket connects or closes; returns the unwatch function. */
  watch(watch: (connected: boolean) => void): () => void {
    this.watchers.add(watch);
    return () => this.watchers.delete(watch);
  }

  /** Starts one operation; returns the function that ends it (sending `complete` if it is still running). */
  subscribe<T>(
    payload: { query: string; variables: Record<string, unknown> },
    operation: Operation,
    sink: Sink<FormattedExecutionResult<T>>,
  ): () => void {
    this.operations.add(operation);
    const dispose = this.client.subscribe<T>(payload, sink);
    return () => {
      this.operations.delete(operation);
      dispose();
    };
  }

  /** Ends the socket now, as a drop: every operation on it resumes elsewhere, on a new connection. */
  terminate(): void {
    this.graphqlWs?.terminate();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.stallTimer);
    this.watchers.clear();
    void this.graphqlWs?.dispose();
  }

  private armWatchdog(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.terminate(), this.options.stallTimeout);
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const watch of [...this.watchers]) watch(connected);
  }
}
