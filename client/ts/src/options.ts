/**
 * Client options and their defaults.
 *
 * @module
 */

import type { Interceptor, Transport } from "@connectrpc/connect";
import { type Backends, type ClientAddress, parseAddress } from "./addresses.js";
import { checkTimeoutMs } from "./call-options.js";
import { checkToken, checkTlsOptions, type TlsOptions } from "./credentials.js";

/** Options of {@link OpHostClient}. Every field is optional. */
export interface ClientOptions {
  /**
   * Use TLS: `true` for the system's trust store, or Node TLS options: `ca`, the PEM CA
   * certificates to verify the server with (instead of the system's); `cert` and `key`,
   * a PEM client certificate chain and its private key (mTLS); `servername`, ... PEM
   * is data (a string or a `Buffer`), not a file name. An address given as an
   * `https://` URL uses TLS too. A plain `host:port` without this option is insecure
   * HTTP/2 (h2c). With a `dns:///name:port` address, every server's certificate is
   * checked against `name` (unless `servername` is given).
   */
  readonly tls?: boolean | TlsOptions;
  /**
   * A token sent with every call, as the header `authorization: Bearer <token>`; a
   * server with a token file maps it to an identity. A call's `token` option, or an
   * `authorization` header in its `headers`, replaces it for that call. Printable ASCII
   * without spaces. Without TLS it travels in plain text: use TLS off loopback.
   */
  readonly token?: string;
  /**
   * The deadline of every unary call in milliseconds, or `null` for none; a call's own
   * `timeoutMs` replaces it. Streams have none unless the call gives one. Default 30 000.
   */
  readonly timeoutMs?: number | null;
  /** How many times in a row a broken stream re-attaches before giving up. Default 5. */
  readonly reattachAttempts?: number;
  /** The wait before the first re-attach, in milliseconds; doubled for each further one, at most 5 s. Default 200. */
  readonly reattachBackoffMs?: number;
  /** The interval of HTTP/2 keepalive pings, in milliseconds. Default 30 000. */
  readonly keepaliveIntervalMs?: number;
  /** How long an unanswered ping may take before the connection counts as dead, in milliseconds. Default 10 000. */
  readonly keepaliveTimeoutMs?: number;
  /** The largest message the client accepts, in bytes. Default 64 MiB. */
  readonly readMaxBytes?: number;
  /** Connect interceptors, run for every RPC (for example to add authentication headers, or to log). */
  readonly interceptors?: Interceptor[];
  /**
   * A Connect transport to send every call through instead of the client's own gRPC
   * transport over HTTP/2: `createConnectTransport` or `createGrpcWebTransport` of
   * `@connectrpc/connect-web` (or `-node`), to call a host's browser door
   * (`ophost serve --http-port`). The transport then owns the connection: its TLS, its
   * headers and its interceptors (put the token in one), so `tls`, `token`,
   * `interceptors`, `readMaxBytes` and the keepalive options cannot be given with it,
   * and the client's address only names it in messages.
   */
  readonly transport?: Transport;
  /**
   * How `execute` and `call` start an execution: `"Execute"`, the bidirectional stream
   * (large values uploaded in chunks, cancel on the same stream), or
   * `"StartExecution"`, a unary call followed by `StreamEvents`, which is what
   * transports without bidirectional streams (browsers, the browser door) can make;
   * values must then fit in the request. Default: `"StartExecution"` with a
   * `transport`, else `"Execute"`.
   */
  readonly startWith?: "Execute" | "StartExecution";
}

/** The options with their defaults applied. */
export interface ResolvedOptions {
  readonly backends: Backends;
  readonly timeoutMs: number | undefined;
  readonly reattachAttempts: number;
  readonly reattachBackoffMs: number;
  readonly startWith: "Execute" | "StartExecution";
}

/** The longest wait between two re-attach attempts, in milliseconds. */
export const MAX_REATTACH_BACKOFF_MS = 5_000;

/**
 * Keepalive as the Python client's `CHANNEL_OPTIONS` sets it, within the server's
 * policy (it accepts pings every 10 s, also without calls in flight): a ping every
 * 30 s, also while idle, and a connection whose ping is unanswered for 10 s is dead.
 * Messages up to 64 MiB are accepted so that a server configured above gRPC's 4 MiB
 * default still works.
 */
export const DEFAULTS = {
  timeoutMs: 30_000,
  reattachAttempts: 5,
  reattachBackoffMs: 200,
  keepaliveIntervalMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  readMaxBytes: 64 << 20,
} as const;

function checkNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

/** Validate the options and apply the defaults. */
export function resolveOptions(address: ClientAddress, options: ClientOptions): ResolvedOptions {
  const timeoutMs = options.timeoutMs === undefined ? DEFAULTS.timeoutMs : options.timeoutMs;
  checkTimeoutMs(timeoutMs);
  if (options.token !== undefined) {
    checkToken(options.token, "the token option");
  }
  checkTlsOptions(options.tls);
  if (options.transport !== undefined) {
    const owned = (["tls", "token", "interceptors", "readMaxBytes", "keepaliveIntervalMs", "keepaliveTimeoutMs"] as const).filter(
      (name) => options[name] !== undefined,
    );
    if (owned.length > 0) {
      throw new TypeError(`give ${owned.join(", ")} to the transport handed in with the transport option, not to the client`);
    }
  }
  const startWith = options.startWith ?? (options.transport === undefined ? "Execute" : "StartExecution");
  if (startWith !== "Execute" && startWith !== "StartExecution") {
    throw new TypeError(`startWith must be "Execute" or "StartExecution", got ${JSON.stringify(startWith)}`);
  }
  return {
    startWith,
    backends: parseAddress(address, options.tls),
    timeoutMs: timeoutMs ?? undefined,
    reattachAttempts: checkNonNegative("reattachAttempts", options.reattachAttempts ?? DEFAULTS.reattachAttempts),
    reattachBackoffMs: checkNonNegative("reattachBackoffMs", options.reattachBackoffMs ?? DEFAULTS.reattachBackoffMs),
  };
}
