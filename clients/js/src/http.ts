// Queries and mutations over HTTP POST, with the caller's headers (the bearer token of jwt mode, say).

import { PersistreamError } from "./errors.js";

export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

export interface HttpOptions {
  url: string;
  headers?: HeadersOption | undefined;
  fetch: typeof fetch;
  credentials: RequestCredentials;
}

export async function httpRequest<T>(
  options: HttpOptions,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  const extra = typeof options.headers === "function" ? await options.headers() : (options.headers ?? {});
  let response: Response;
  try {
    response = await options.fetch(options.url, {
      method: "POST",
      // The identity of anonymous mode is a cookie the server set: a browser sends it (same origin by default).
      credentials: options.credentials,
      headers: { "content-type": "application/json", accept: "application/json", ...extra },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new PersistreamError("The server could not be reached.");
  }
  let body: { data?: T | null; errors?: { message?: unknown; extensions?: Record<string, unknown> }[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new PersistreamError(`The server answered with status ${response.status}.`);
  }
  if (body.errors?.length) throw PersistreamError.fromGraphQL(body.errors);
  if (!response.ok || !body.data) throw new PersistreamError(`The server answered with status ${response.status}.`);
  return body.data;
}
