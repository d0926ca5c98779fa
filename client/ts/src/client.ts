/**
 * The client of `ophost.v1.OpHostService`.
 *
 * @module
 */

import { type CallOptions, type Client, createClient as createRpcClient } from "@connectrpc/connect";
import "./async-dispose.js"; // Symbol.asyncDispose, on a Node that lacks it
import { type Connection, openConnection } from "./connection.js";
import { ClientClosedError, ProtocolError } from "./errors.js";
import { OpView, OpHostService } from "./gen/ophost/v1/op_host_service_pb.js";
import {
  decodeExecution,
  decodeServerInfo,
  type ExecutionInfo,
  type ExecutionStateName,
  executionStateValue,
  type ServerInfo,
} from "./info.js";
import { decodeOp, type OpSignature } from "./ops.js";
import { type ClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { StartRequest, type StartOptions } from "./request.js";
import { toSequence } from "./sequence.js";
import { toRpcError } from "./status.js";
import { Execution, type StreamHost } from "./stream.js";
import type { OpValue } from "./values.js";

/** Options of {@link OpHostClient.execute} and {@link OpHostClient.call}. */
export interface ExecuteOptions extends StartOptions {
  /**
   * Stops the RPC and the wait for events when aborted (the iteration rejects with
   * the signal's reason). The execution keeps running on the server: cancel it with
   * `Execution.cancel` or {@link OpHostClient.cancel}.
   */
  readonly signal?: AbortSignal;
}

/** Options of {@link OpHostClient.attach}. */
export interface AttachOptions {
  /** As in {@link ExecuteOptions.signal}. */
  readonly signal?: AbortSignal;
}

/**
 * Calls the ops of an ophost server over gRPC (HTTP/2).
 *
 * ```ts
 * await using client = createOpHostClient("127.0.0.1:50051"); // closed at the end of the block
 * const { result } = await client.call("add", { a: 2n, b: 3n }); // 5n
 * ```
 *
 * Made by {@link createOpHostClient}. The connection opens with the first call and is
 * kept alive with pings. Every RPC failure is an `OpHostRpcError`; after {@link close},
 * every call rejects with a `ClientClosedError`.
 */
export class OpHostClient implements AsyncDisposable {
  /** The address the client was made with. */
  readonly address: string;
  readonly #options: ResolvedOptions;
  readonly #connection: Connection;
  readonly #rpc: Client<typeof OpHostService>;
  readonly #host: StreamHost;
  #serverInfo: Promise<ServerInfo> | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createOpHostClient}. */
  constructor(address: string, options: ClientOptions) {
    this.address = address;
    this.#options = resolveOptions(address, options);
    this.#connection = openConnection(this.#options.baseUrl, options);
    this.#rpc = createRpcClient(OpHostService, this.#connection.transport);
    const client = this;
    this.#host = {
      rpc: this.#rpc,
      reattachAttempts: this.#options.reattachAttempts,
      reattachBackoffMs: this.#options.reattachBackoffMs,
      get closed() {
        return client.closed;
      },
      checkOpen: () => this.#checkOpen(),
      cachedServerInfo: () => this.#cachedServerInfo(),
      cancelById: (executionId, reason) => this.cancel(executionId, reason),
    };
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Close the connection: open streams end with a `ClientClosedError`, and every later
   * call rejects with it. The client counts as closed at once; the promise resolves
   * when its HTTP/2 sessions have closed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#connection.close();
    return this.#closing;
  }

  /** {@link close}, for `await using client = createOpHostClient(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.closed) {
      throw new ClientClosedError(`the ophost client of ${this.address} is closed`);
    }
  }

  #callOptions(): CallOptions {
    return this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs };
  }

  async #unary<T>(call: (options: CallOptions) => Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await call(this.#callOptions());
    } catch (error) {
      this.#checkOpen();
      throw toRpcError(error);
    }
  }

  // -- the server and its ops ----------------------------------------------------------

  /** Who the server is, what it can do, and its limits (remembered for uploads). */
  async serverInfo(): Promise<ServerInfo> {
    const info = decodeServerInfo(await this.#unary((options) => this.#rpc.getServerInfo({}, options)));
    this.#serverInfo = Promise.resolve(info);
    return info;
  }

  #cachedServerInfo(): Promise<ServerInfo> {
    const cached = (this.#serverInfo ??= this.serverInfo());
    cached.catch(() => {
      if (this.#serverInfo === cached) {
        this.#serverInfo = undefined; // a failed look-up is asked again next time
      }
    });
    return cached;
  }

  /**
   * Every hosted op, in registration order, following the pages. Without `full`,
   * only names, descriptions and input and output types are filled; use
   * {@link getOp} or `{ full: true }` for the rest.
   */
  async listOps(options: { readonly full?: boolean } = {}): Promise<OpSignature[]> {
    const view = options.full ? OpView.FULL : OpView.BASIC;
    const ops: OpSignature[] = [];
    let pageToken = "";
    do {
      const token = pageToken;
      const page = await this.#unary((call) => this.#rpc.listOps({ pageToken: token, view }, call));
      ops.push(...page.ops.map(decodeOp));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return ops;
  }

  /** One op's full definition. Unknown op: `OpHostRpcError` `NOT_FOUND` / `OP_NOT_FOUND`. */
  async getOp(name: string): Promise<OpSignature> {
    const response = await this.#unary((options) => this.#rpc.getOp({ opName: name }, options));
    if (response.op === undefined) {
      throw new ProtocolError(`GetOp(${name}) returned no op`);
    }
    return decodeOp(response.op);
  }

  // -- executions -----------------------------------------------------------------------

  /**
   * Run `op` and stream its events: `for await (const event of client.execute(...))`.
   *
   * The execution starts when the stream is first read (or on `accepted()`). Inputs
   * and config too large to travel inline are uploaded in chunks. A value that cannot
   * be converted throws a `ValueConversionError` here, naming the op and the path; a
   * request the server rejects rejects the first read with an `OpHostRpcError`.
   *
   * Numbers travel as floats: pass `bigint`s (`2n`) for `int` inputs.
   */
  execute(op: string, inputs: Readonly<Record<string, unknown>> = {}, options: ExecuteOptions = {}): Execution {
    this.#checkOpen();
    const start = StartRequest.encode(op, inputs, options);
    return new Execution(this.#host, { start, signal: options.signal });
  }

  /**
   * Run `op` to the end and return the outputs of its final attempt, by name.
   *
   * @throws `OpFailedError` (with the error chain) when the op failed,
   *   `ExecutionCanceledError` when it was canceled, `OpHostRpcError` when the server
   *   refused the request, `ValueConversionError` for a value with no wire form.
   */
  async call(
    op: string,
    inputs: Readonly<Record<string, unknown>> = {},
    options: ExecuteOptions = {},
  ): Promise<Record<string, OpValue>> {
    const execution = this.execute(op, inputs, options);
    try {
      return await execution.result();
    } finally {
      execution.close();
    }
  }

  /**
   * Follow an execution's events after `afterSequence` (0: from the start). Pass a
   * `bigint` (a `number` must be a safe integer); a sequence beyond the execution's
   * last one is `OpHostRpcError` `OUT_OF_RANGE` / `SEQUENCE_OUT_OF_RANGE`.
   */
  attach(executionId: string, afterSequence: bigint | number = 0n, options: AttachOptions = {}): Execution {
    this.#checkOpen();
    const after = toSequence(afterSequence, "afterSequence");
    return new Execution(this.#host, { executionId, afterSequence: after, signal: options.signal });
  }

  /** Ask for an execution to be canceled; returns it as it is now (idempotent). */
  async cancel(executionId: string, reason = ""): Promise<ExecutionInfo> {
    const response = await this.#unary((options) => this.#rpc.cancelExecution({ executionId, reason }, options));
    return this.#execution(response.execution);
  }

  /** One execution as it is now. */
  async getExecution(executionId: string): Promise<ExecutionInfo> {
    const response = await this.#unary((options) => this.#rpc.getExecution({ executionId }, options));
    return this.#execution(response.execution);
  }

  /** The executions the server retains, newest first, following the pages, optionally filtered. */
  async listExecutions(
    filter: { readonly opName?: string; readonly states?: readonly ExecutionStateName[] } = {},
  ): Promise<ExecutionInfo[]> {
    const states = (filter.states ?? []).map(executionStateValue);
    const found: ExecutionInfo[] = [];
    let pageToken = "";
    do {
      const token = pageToken;
      const page = await this.#unary((options) =>
        this.#rpc.listExecutions({ pageToken: token, opName: filter.opName ?? "", states }, options),
      );
      found.push(...page.executions.map(decodeExecution));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return found;
  }

  #execution(message: Parameters<typeof decodeExecution>[0] | undefined): ExecutionInfo {
    if (message === undefined) {
      throw new ProtocolError("the server returned no execution");
    }
    return decodeExecution(message);
  }
}

/**
 * Make a client of the ophost server at `address`: the one way to construct an
 * {@link OpHostClient}.
 *
 * `address` is `host:port` (insecure HTTP/2, or TLS with the `tls` option) or an
 * `http://` / `https://` URL. Nothing is sent yet: the connection opens with the first
 * call. Throws a `TypeError` for a malformed address and a `RangeError` for an option
 * out of range.
 */
export function createOpHostClient(address: string, options: ClientOptions = {}): OpHostClient {
  return new OpHostClient(address, options);
}
