/**
 * The client of `ophost.v1.OpHostService`.
 *
 * @module
 */

import { type Client, createClient as createRpcClient, type CallOptions as RpcCallOptions } from "@connectrpc/connect";
import { addressLabel, type ClientAddress } from "./addresses.js";
import "./async-dispose.js"; // Symbol.asyncDispose, on a Node that lacks it
import { type CallOptions, CallScope, checkTimeoutMs } from "./call-options.js";
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

/** Options of {@link OpHostClient.listOps}. */
export interface ListOpsOptions extends CallOptions {
  /** Fill in every part of each definition, as {@link OpHostClient.getOp} does. */
  readonly full?: boolean;
}

/** Options of {@link OpHostClient.execute} and {@link OpHostClient.call}. */
export interface ExecuteOptions extends StartOptions, CallOptions {}

/** Options of {@link OpHostClient.attach}. */
export interface AttachOptions extends CallOptions {}

/** Options of {@link OpHostClient.listExecutions}: filters, and the call's options. */
export interface ListExecutionsOptions extends CallOptions {
  /** Only the executions of this op. */
  readonly opName?: string;
  /** Only the executions in one of these states. */
  readonly states?: readonly ExecutionStateName[];
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
  /** The address the client was made with (several joined with commas). */
  readonly address: string;
  readonly #options: ResolvedOptions;
  readonly #connection: Connection;
  readonly #rpc: Client<typeof OpHostService>;
  readonly #host: StreamHost;
  #serverInfo: Promise<ServerInfo> | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createOpHostClient}. */
  constructor(address: ClientAddress, options: ClientOptions) {
    this.address = addressLabel(address);
    this.#options = resolveOptions(address, options);
    this.#connection = openConnection(this.#options.backends, options);
    this.#rpc = createRpcClient(OpHostService, this.#connection.transport);
    const client = this;
    this.#host = {
      rpc: this.#rpc,
      reattachAttempts: this.#options.reattachAttempts,
      reattachBackoffMs: this.#options.reattachBackoffMs,
      startWith: this.#options.startWith,
      get closed() {
        return client.closed;
      },
      checkOpen: () => this.#checkOpen(),
      cachedServerInfo: (call) => this.#cachedServerInfo(call),
      cancelById: (executionId, reason, call) => this.cancel(executionId, reason, call),
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

  /** Start a unary call: its deadline (the call's `timeoutMs`, else the client's) runs from now. */
  #scope(options: CallOptions): CallScope {
    return new CallScope(options, this.#options.timeoutMs);
  }

  /** One RPC of a unary call; an aborted signal rejects with its reason, anything else as an `OpHostRpcError`. */
  async #unary<T>(scope: CallScope, rpc: (options: RpcCallOptions) => Promise<T>): Promise<T> {
    this.#checkOpen();
    scope.signal?.throwIfAborted();
    try {
      return await rpc(scope.rpcOptions());
    } catch (error) {
      this.#checkOpen();
      scope.signal?.throwIfAborted();
      throw toRpcError(error);
    }
  }

  // -- the server and its ops ----------------------------------------------------------

  /** Who the server is, what it can do, and its limits (remembered for uploads). */
  async serverInfo(options: CallOptions = {}): Promise<ServerInfo> {
    const scope = this.#scope(options);
    const info = decodeServerInfo(await this.#unary(scope, (rpc) => this.#rpc.getServerInfo({}, rpc)));
    this.#serverInfo = Promise.resolve(info);
    return info;
  }

  /**
   * The server's info, asked once and remembered. The first stream that needs it asks
   * with its own headers and deadline; streams that need it meanwhile share that answer.
   */
  #cachedServerInfo(options: CallOptions): Promise<ServerInfo> {
    const cached = (this.#serverInfo ??= this.serverInfo(options));
    cached.catch(() => {
      if (this.#serverInfo === cached) {
        this.#serverInfo = undefined; // a failed look-up is asked again next time
      }
    });
    return cached;
  }

  /**
   * Every hosted op, in registration order, following the pages (one deadline covers
   * them all). Without `full`, only names, descriptions and input and output types
   * are filled; use {@link getOp} or `{ full: true }` for the rest.
   */
  async listOps(options: ListOpsOptions = {}): Promise<OpSignature[]> {
    const scope = this.#scope(options);
    const view = options.full ? OpView.FULL : OpView.BASIC;
    const ops: OpSignature[] = [];
    let pageToken = "";
    do {
      const token = pageToken;
      const page = await this.#unary(scope, (rpc) => this.#rpc.listOps({ pageToken: token, view }, rpc));
      ops.push(...page.ops.map(decodeOp));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return ops;
  }

  /** One op's full definition. Unknown op: `OpHostRpcError` `NOT_FOUND` / `OP_NOT_FOUND`. */
  async getOp(name: string, options: CallOptions = {}): Promise<OpSignature> {
    const response = await this.#unary(this.#scope(options), (rpc) => this.#rpc.getOp({ opName: name }, rpc));
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
   *
   * `options.timeoutMs` is a deadline for the whole stream (none by default), the
   * signal stops reading (the execution keeps running on the server: cancel it with
   * `Execution.cancel` or {@link cancel}), and the headers go with every RPC the
   * stream makes, re-attaches included.
   */
  execute(op: string, inputs: Readonly<Record<string, unknown>> = {}, options: ExecuteOptions = {}): Execution {
    this.#checkOpen();
    checkTimeoutMs(options.timeoutMs);
    const start = StartRequest.encode(op, inputs, options);
    return new Execution(this.#host, { start, call: options });
  }

  /**
   * Run `op` to the end and return the outputs of its final attempt, by name. The
   * options are those of {@link execute}: `timeoutMs` bounds the whole call.
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
   * last one is `OpHostRpcError` `OUT_OF_RANGE` / `SEQUENCE_OUT_OF_RANGE`. The options
   * work as for {@link execute}.
   */
  attach(executionId: string, afterSequence: bigint | number = 0n, options: AttachOptions = {}): Execution {
    this.#checkOpen();
    checkTimeoutMs(options.timeoutMs);
    const after = toSequence(afterSequence, "afterSequence");
    return new Execution(this.#host, { executionId, afterSequence: after, call: options });
  }

  /** Ask for an execution to be canceled; returns it as it is now (idempotent). */
  async cancel(executionId: string, reason = "", options: CallOptions = {}): Promise<ExecutionInfo> {
    const scope = this.#scope(options);
    const response = await this.#unary(scope, (rpc) => this.#rpc.cancelExecution({ executionId, reason }, rpc));
    return this.#execution(response.execution);
  }

  /** One execution as it is now. */
  async getExecution(executionId: string, options: CallOptions = {}): Promise<ExecutionInfo> {
    const response = await this.#unary(this.#scope(options), (rpc) => this.#rpc.getExecution({ executionId }, rpc));
    return this.#execution(response.execution);
  }

  /**
   * The executions the server retains, newest first, following the pages (one deadline
   * covers them all), optionally filtered by op and state.
   */
  async listExecutions(options: ListExecutionsOptions = {}): Promise<ExecutionInfo[]> {
    const scope = this.#scope(options);
    const states = (options.states ?? []).map(executionStateValue);
    const opName = options.opName ?? "";
    const found: ExecutionInfo[] = [];
    let pageToken = "";
    do {
      const token = pageToken;
      const page = await this.#unary(scope, (rpc) =>
        this.#rpc.listExecutions({ pageToken: token, opName, states }, rpc),
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
 *
 * For the replicas of one host (`ophost serve` processes sharing a database), give
 * several addresses, as an array or joined by commas (`"10.0.0.1:50051,10.0.0.2:50051"`,
 * or gRPC's `"ipv4:10.0.0.1:50051,10.0.0.2:50051"`), or `dns:///name:port` for every
 * address of a name. The client then sends each call to the next server in turn
 * (round robin), skipping for a while a server it could not connect to; a stream
 * stays on the server it started on, and a re-attach goes to the next one. A
 * `dns:///` name is looked up once, at the first call, and not again: a client of a
 * name whose addresses change must be made anew.
 */
export function createOpHostClient(address: ClientAddress, options: ClientOptions = {}): OpHostClient {
  return new OpHostClient(address, options);
}
