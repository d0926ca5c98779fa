/**
 * Client options and their defaults.
 *
 * @module
 */

import type * as http2 from "node:http2";
import type { Interceptor } from "@connectrpc/connect";
import { type Backends, type ClientAddress, parseAddress } from "./addresses.js";
import { checkTimeoutMs } from "./call-options.js";

/** Options of {@link OpHostClient}. Every field is optional. */
export interface ClientOptions {
  /**
   * Use TLS: `true` for the system's trust store, or Node TLS options (`ca`, `cert`,
   * `key`, `servername`, ...). An address given as an `https://` URL uses TLS too.
   * A plain `host:port` without this option is insecure HTTP/2 (h2c). With a
   * `dns:///name:port` address, every server's certificate is checked against `name`
   * (unless `servername` is given).
   */
  readonly tls?: boolean | http2.SecureClientSessionOptions;
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
}

/** The options with their defaults applied. */
export interface ResolvedOptions {
  readonly backends: Backends;
  readonly timeoutMs: number | undefined;
  readonly reattachAttempts: number;
  readonly reattachBackoffMs: number;
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
  return {
    backends: parseAddress(address, options.tls),
    timeoutMs: timeoutMs ?? undefined,
    reattachAttempts: checkNonNegative("reattachAttempts", options.reattachAttempts ?? DEFAULTS.reattachAttempts),
    reattachBackoffMs: checkNonNegative("reattachBackoffMs", options.reattachBackoffMs ?? DEFAULTS.reattachBackoffMs),
  };
}
