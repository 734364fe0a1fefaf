export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
export interface HttpOptions {
    url: string;
    headers?: HeadersOption | undefined;
    fetch: typeof fetch;
    credentials: RequestCredentials;
}
export declare function httpRequest<T>(options: HttpOptions, query: string, variables: Record<string, unknown>): Promise<T>;
