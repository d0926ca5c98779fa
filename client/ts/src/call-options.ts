/**
 * Per-call options. Every client method that makes RPCs takes a deadline, an abort
 * signal and request headers, like connect-es's `CallOptions`, and hands them to
 * Connect for each RPC it makes. {@link CallScope} is one call's options in use:
 * a deadline fixed when the call starts, shared by all of its RPCs.
 *
 * @module
 */

import { Code, ConnectError, type CallOptions as RpcCallOptions } from "@connectrpc/connect";
import type { OpHostRpcError } from "./errors.js";
import { withCallToken } from "./credentials.js";
import { toRpcError } from "./status.js";
import type { RequestHeaders } from "./headers.js";
import { withTraceContext } from "./trace-context.js";

export type { RequestHeaders } from "./headers.js";

/** Options every RPC-making method of the client takes. */
export interface CallOptions {
  /**
   * The deadline of this call, in milliseconds, in place of the client's `timeoutMs`;
   * `null` for none. A method that makes several RPCs (the pages of a listing) has one
   * deadline for all of them. A stream (`execute`, `call`, `attach`) has a deadline only
   * when one is given here: it covers the whole stream, re-attaches included, and runs
   * from when the stream opens. Past it, the call rejects with an `OpHostRpcError`
   * `DEADLINE_EXCEEDED`.
   */
  readonly timeoutMs?: number | null;
  /**
   * Aborts the call: it rejects with the signal's reason. For a stream, the execution
   * keeps running on the server (cancel it to stop it).
   */
  readonly signal?: AbortSignal;
  /**
   * Headers sent with every RPC of the call (credentials, tracing, ...). An
   * `authorization` header here replaces the client's token for this call.
   */
  readonly headers?: RequestHeaders;
  /**
   * The token of this call, in place of the client's (and of an `authorization` header
   * in `headers`): every RPC of the call sends `authorization: Bearer <token>`.
   * Printable ASCII without spaces; another value rejects the call with a `TypeError`.
   */
  readonly token?: string;
}

/**
 * The longest deadline: gRPC's `grpc-timeout` header carries at most 8 digits, and
 * Connect sends milliseconds (99 999 999 ms is about 27.7 hours).
 */
export const MAX_TIMEOUT_MS = 99_999_999;

/** Check a `timeoutMs` option: `undefined`, `null`, or a number of milliseconds in (0, MAX_TIMEOUT_MS]. */
export function checkTimeoutMs(timeoutMs: number | null | undefined): void {
  if (timeoutMs === undefined || timeoutMs === null) {
    return;
  }
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RangeError(`timeoutMs must be > 0 and at most ${MAX_TIMEOUT_MS}, or null; got ${String(timeoutMs)}`);
  }
}

/** The error of a call whose deadline passed before its next RPC could start. */
export function deadlineExceeded(): OpHostRpcError {
  return toRpcError(new ConnectError("the call's deadline passed", Code.DeadlineExceeded));
}

/** `extra` on top of `base`: a header in both takes `extra`'s value. */
export function mergeHeaders(base: RequestHeaders | undefined, extra: RequestHeaders | undefined): RequestHeaders | undefined {
  if (base === undefined || extra === undefined) {
    return extra ?? base;
  }
  const merged = new Headers(base);
  new Headers(extra).forEach((value, name) => merged.set(name, value));
  return merged;
}

/** One call's options in use: its signal, its headers, and a deadline counted from when the call started. */
export class CallScope {
  readonly signal: AbortSignal | undefined;
  readonly headers: RequestHeaders | undefined;
  /** When the deadline passes, on the `performance.now()` clock; `undefined` for none. */
  readonly #deadline: number | undefined;

  /**
   * Start a call now. `defaultTimeoutMs` (the client's, for unary calls) applies when
   * the options give no `timeoutMs`; `null` there means no deadline.
   *
   * @throws RangeError for a `timeoutMs` out of range.
   */
  constructor(options: CallOptions, defaultTimeoutMs: number | undefined) {
    checkTimeoutMs(options.timeoutMs);
    const timeoutMs = options.timeoutMs === undefined ? defaultTimeoutMs : (options.timeoutMs ?? undefined);
    this.signal = options.signal;
    // The call's token (./credentials.ts), and the caller's OpenTelemetry span, if
    // any, as `traceparent` (./trace-context.ts).
    this.headers = withTraceContext(withCallToken(options.headers, options.token));
    this.#deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  }

  /** Whether the deadline has passed. */
  get expired(): boolean {
    return this.#deadline !== undefined && performance.now() >= this.#deadline;
  }

  /**
   * Whole milliseconds left before the deadline, at least 1; `undefined` without one.
   *
   * @throws OpHostRpcError `DEADLINE_EXCEEDED` once the deadline has passed.
   */
  remainingMs(): number | undefined {
    if (this.#deadline === undefined) {
      return undefined;
    }
    const left = Math.ceil(this.#deadline - performance.now());
    if (left <= 0) {
      throw deadlineExceeded();
    }
    return left;
  }

  /**
   * Connect's options for the next RPC of the call: the time left, the headers, and
   * `signal` (the call's own by default; a stream passes the one of its current RPC).
   */
  rpcOptions(signal: AbortSignal | undefined = this.signal): RpcCallOptions {
    const options: RpcCallOptions = {};
    const timeoutMs = this.remainingMs();
    if (timeoutMs !== undefined) {
      options.timeoutMs = timeoutMs;
    }
    if (signal !== undefined) {
      options.signal = signal;
    }
    if (this.headers !== undefined) {
      options.headers = this.headers;
    }
    return options;
  }

  /** The options of a unary call made on behalf of this one: same headers, the time left. */
  nested(): CallOptions {
    const timeoutMs = this.remainingMs();
    return {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(this.headers === undefined ? {} : { headers: this.headers }),
    };
  }
}
