import { type FormattedExecutionResult, type Sink } from "graphql-ws/client";
export interface CloseLike {
    code: number;
    reason?: string;
}
export declare function isCloseLike(value: unknown): value is CloseLike;
export declare function isFatalClose(close: CloseLike): boolean;
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
export declare class Socket {
    private readonly options;
    private graphqlWs;
    private connected;
    private stallTimer;
    private readonly operations;
    private readonly watchers;
    private disposed;
    constructor(options: SocketOptions);
    /** The graphql-ws client, made on first use: a program that only sends queries over HTTP needs no WebSocket. */
    private get client();
    get isConnected(): boolean;
    /** Calls `watch(connected)` whenever the socket connects or closes; returns the unwatch function. */
    watch(watch: (connected: boolean) => void): () => void;
    /** Starts one operation; returns the function that ends it (sending `complete` if it is still running). */
    subscribe<T>(payload: {
        query: string;
        variables: Record<string, unknown>;
    }, operation: Operation, sink: Sink<FormattedExecutionResult<T>>): () => void;
    /** Ends the socket now, as a drop: every operation on it resumes elsewhere, on a new connection. */
    terminate(): void;
    dispose(): void;
    private armWatchdog;
    private setConnected;
}
