/**
 * The client's credentials: TLS for its connections, a token for its calls.
 *
 * A token travels in the request header `authorization: Bearer <token>`, as with the
 * Python and Go clients. The client's own token (the `token` option) goes with every
 * RPC that does not carry an `authorization` header already; a call's `token` option,
 * or an `authorization` header in its `headers`, replaces it for that call. Exactly
 * one such header is ever sent (a server refuses a call with two).
 *
 * @module
 */

import type * as http2 from "node:http2";
import type { Interceptor } from "@connectrpc/connect";
import type { RequestHeaders } from "./headers.js";

/** The request header a token travels in. */
export const AUTHORIZATION_HEADER = "authorization";

/**
 * The TLS options of a client: Node's TLS options for HTTP/2 sessions. The ones that
 * matter most: `ca`, the PEM CA certificates to verify the server with (the system's
 * when absent); `cert` and `key`, the PEM client certificate chain and its private key
 * (mTLS); `servername`, the name to check the server's certificate against. PEM is
 * given as data (a string or a `Buffer`), not as a file name: read files with
 * `fs.readFileSync`.
 */
export type TlsOptions = http2.SecureClientSessionOptions;

/**
 * Check a token: a non-empty string of printable ASCII without spaces.
 *
 * @throws TypeError naming `what` when it is not one.
 */
export function checkToken(token: unknown, what: string): string {
  if (typeof token !== "string" || token.length === 0) {
    throw new TypeError(`${what} must be a non-empty string`);
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError(`${what} must be printable ASCII without spaces`);
  }
  return token;
}

/** The value of the authorization header that carries `token`. */
export function bearer(token: string): string {
  return `Bearer ${checkToken(token, "a token")}`;
}

/** `headers` with the call's `token` as its authorization header, replacing any there. */
export function withCallToken(headers: RequestHeaders | undefined, token: string | undefined): RequestHeaders | undefined {
  if (token === undefined) {
    return headers;
  }
  const value = `Bearer ${checkToken(token, "the call's token")}`;
  const merged = new Headers(headers);
  merged.set(AUTHORIZATION_HEADER, value);
  return merged;
}

/** The interceptor that sends the client's token with every RPC that has no authorization header of its own. */
export function tokenInterceptor(token: string): Interceptor {
  const value = bearer(token);
  return (next) => async (request) => {
    if (!request.header.has(AUTHORIZATION_HEADER)) {
      request.header.set(AUTHORIZATION_HEADER, value);
    }
    return next(request);
  };
}

type PemInput = string | Buffer | readonly (string | Buffer)[] | undefined;

function checkPem(value: PemInput, name: string): void {
  if (value === undefined) {
    return;
  }
  const items = Array.isArray(value) ? value : [value];
  for (const item of items as readonly unknown[]) {
    const text = typeof item === "string" ? item : Buffer.isBuffer(item) ? item.toString("latin1") : undefined;
    if (text === undefined) {
      throw new TypeError(`tls.${name} must be PEM data (a string or a Buffer)`);
    }
    if (!text.includes("-----BEGIN ")) {
      const shown = typeof item === "string" && item.length < 200 ? ` (${JSON.stringify(item)})` : "";
      throw new TypeError(
        `tls.${name} is not PEM data${shown}: it has no -----BEGIN line; pass the file's content (fs.readFileSync(path)), not its name`,
      );
    }
  }
}

/**
 * Check the PEM parts of the TLS options: `ca`, `cert` and `key` must be PEM data, and
 * `cert` and `key` go together.
 *
 * @throws TypeError naming the option at fault.
 */
export function checkTlsOptions(tls: boolean | TlsOptions | undefined): void {
  if (typeof tls !== "object" || tls === null) {
    return;
  }
  checkPem(tls.ca as PemInput, "ca");
  checkPem(tls.cert as PemInput, "cert");
  if (tls.key !== undefined && !Array.isArray(tls.key)) {
    checkPem(tls.key as PemInput, "key");
  }
  if ((tls.cert === undefined) !== (tls.key === undefined) && tls.pfx === undefined) {
    throw new TypeError("tls.cert and tls.key go together (a client certificate and its private key)");
  }
}
