/**
 * The events of one execution as an async iterable, with chunk reassembly and
 * automatic re-attach.
 *
 * An {@link Execution} reads one of two RPCs: `Execute` (it starts the execution:
 * `start`, the chunks of large inputs, then `accepted` and event batches) or
 * `StreamEvents` (it follows an existing execution). It checks that sequences follow
 * each other without gaps, holds back an output whose value travels in chunks until
 * the last chunk arrived (docs/protocol.md, 5.2), and decodes every event.
 *
 * When the RPC breaks with a transient status, or ends before the terminal event, it
 * re-opens `StreamEvents` after the last sequence it fully received (never inside a
 * chunk run: from just before the output holding the reference), waiting between
 * attempts, so the caller sees every event exactly once, in order.
 *
 * @module
 */

import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { type Client, Code } from "@connectrpc/connect";
import { type CallOptions, CallScope, mergeHeaders } from "./call-options.js";
import { ChunkAssembler } from "./chunks.js";
import {
  ClientClosedError,
  ExecutionCanceledError,
  OpFailedError,
  OpHostClientError,
  type OpHostRpcError,
  ProtocolError,
  StreamBrokenError,
} from "./errors.js";
import { decodeEvent, type ExecutionEvent, type ExecutionFinishedEvent, type StepFailureEvent } from "./events.js";
import type { Event } from "./gen/ophost/v1/event_pb.js";
import {
  type ExecuteRequest,
  ExecuteRequestSchema,
  type ExecuteResponse,
  type OpHostService,
  type StartExecutionResponse,
  type StreamEventsResponse,
} from "./gen/ophost/v1/op_host_service_pb.js";
import { decodeExecution, type ExecutionInfo, type ServerInfo } from "./info.js";
import { MAX_REATTACH_BACKOFF_MS } from "./options.js";
import type { StartRequest } from "./request.js";
import { isTransient, toRpcError } from "./status.js";
import type { OpValue } from "./values.js";

/** What a stream needs from the client that made it. */
export interface StreamHost {
  readonly rpc: Client<typeof OpHostService>;
  readonly reattachAttempts: number;
  readonly reattachBackoffMs: number;
  /** How a new execution starts: the `Execute` stream, or `StartExecution` then `StreamEvents`. */
  readonly startWith: "Execute" | "StartExecution";
  readonly closed: boolean;
  /** Throws {@link ClientClosedError} when the client is closed. */
  checkOpen(): void;
  /** The server's info (cached after the first call, which is made with `options`). */
  cachedServerInfo(options: CallOptions): Promise<ServerInfo>;
  /** `CancelExecution`. */
  cancelById(executionId: string, reason: string, options: CallOptions): Promise<unknown>;
}

/**
 * Where the events come from (a new execution, or an existing one), and the options
 * of the call: its deadline covers the whole stream, its headers go with every RPC.
 */
export type StreamSource =
  | { readonly start: StartRequest; readonly call: CallOptions }
  | { readonly executionId: string; readonly afterSequence: bigint; readonly call: CallOptions };

/** The request side of an `Execute` call: messages are queued and sent in order. */
class RequestQueue implements AsyncIterable<ExecuteRequest> {
  private readonly items: ExecuteRequest[] = [];
  private wake: (() => void) | undefined;
  private done = false;

  get ended(): boolean {
    return this.done;
  }

  push(message: ExecuteRequest): void {
    if (!this.done) {
      this.items.push(message);
      this.notify();
    }
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ExecuteRequest> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
      } else if (this.done) {
        return;
      } else {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    }
  }
}

/**
 * The events of one execution, decoded, in sequence order: `for await (const event of execution)`.
 *
 * Made by `OpHostClient.execute` (the execution starts when the stream is first
 * iterated, or on {@link accepted}) and `OpHostClient.attach`. It is read once: a
 * second loop continues where the first stopped. Leaving a `for await` loop early
 * (`break`, `return`, an exception) closes the stream, like {@link close}; the
 * execution itself keeps running on the server (use {@link cancel} to stop it).
 */
export class Execution implements AsyncIterable<ExecutionEvent> {
  readonly #host: StreamHost;
  readonly #request: StartRequest | undefined;
  readonly #options: CallOptions;
  readonly #signal: AbortSignal | undefined;
  readonly #lifetime = new AbortController();
  /** The call's deadline and headers; made when the stream opens, so the deadline runs from then. */
  #scope: CallScope | undefined;
  #executionId: string | undefined;
  #info: ExecutionInfo | undefined;
  #opening: Promise<void> | undefined;
  #closed = false;
  // The current RPC.
  #call: AbortController | undefined;
  #queue: RequestQueue | undefined;
  #executeResponses: AsyncIterator<ExecuteResponse> | undefined;
  #eventResponses: AsyncIterator<StreamEventsResponse> | undefined;
  // Receiving: decoded events not yet handed out, the last sequence received, and the
  // output (if any) whose chunks are still arriving.
  readonly #ready: ExecutionEvent[] = [];
  #lastSequence: bigint;
  #pending: { readonly event: Event; readonly assembler: ChunkAssembler } | undefined;
  #skipOrphanChunks: boolean;
  #terminalReceived = false;
  #failures = 0;
  #reattached = 0;
  // Delivered: what the caller has seen.
  #delivered: bigint;
  readonly #outputs = new Map<string, OpValue>();
  #failure: StepFailureEvent | undefined;
  #finished: ExecutionFinishedEvent | undefined;

  /** @internal Made by the client; use `OpHostClient.execute` or `.attach`. */
  constructor(host: StreamHost, source: StreamSource) {
    this.#host = host;
    this.#options = source.call;
    this.#signal = source.call.signal;
    if ("start" in source) {
      this.#request = source.start;
      this.#lastSequence = 0n;
    } else {
      this.#executionId = source.executionId;
      this.#lastSequence = source.afterSequence;
    }
    this.#delivered = this.#lastSequence;
    this.#skipOrphanChunks = this.#lastSequence > 0n;
    this.#signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** The execution's id: known once accepted (see {@link accepted}), or from the start when attached. */
  get executionId(): string | undefined {
    return this.#executionId;
  }

  /** The execution as it was when accepted (`undefined` for an attached stream). */
  get info(): ExecutionInfo | undefined {
    return this.#info;
  }

  /** The outputs of the current attempt delivered so far, by name. */
  get outputs(): Record<string, OpValue> {
    return Object.fromEntries(this.#outputs);
  }

  /** The terminal event, once it was delivered. */
  get finished(): ExecutionFinishedEvent | undefined {
    return this.#finished;
  }

  /** The sequence of the last event delivered (`afterSequence` before any). */
  get lastSequence(): bigint {
    return this.#delivered;
  }

  /** How many times the stream re-attached after a break. */
  get reattachCount(): number {
    return this.#reattached;
  }

  /** Whether {@link close} was called (or the loop over the stream was left early). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Start the execution (if not started yet) and return its id once the server accepted it. */
  async accepted(): Promise<string> {
    await this.#ensureOpen();
    return this.#executionId as string;
  }

  [Symbol.asyncIterator](): AsyncIterator<ExecutionEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** The next event, or `done` after the terminal event (or once closed). */
  async next(): Promise<IteratorResult<ExecutionEvent, undefined>> {
    this.#signal?.throwIfAborted();
    await this.#ensureOpen();
    while (this.#ready.length === 0) {
      if (this.#closed || this.#terminalReceived) {
        this.#endCall();
        return { done: true, value: undefined };
      }
      await this.#pump();
    }
    const event = this.#ready.shift();
    if (event === undefined || this.#closed) {
      return { done: true, value: undefined };
    }
    this.#observe(event);
    return { done: false, value: event };
  }

  /**
   * Read to the end and return the outputs of the final attempt.
   *
   * @throws {@link OpFailedError} when the op failed, {@link ExecutionCanceledError}
   *   when the execution was canceled, {@link OpHostClientError} when the stream was
   *   closed before the end.
   */
  async result(): Promise<Record<string, OpValue>> {
    while (!(await this.next()).done) {
      // Every event updates the outputs and the terminal state.
    }
    const finished = this.#finished;
    if (finished === undefined) {
      throw new OpHostClientError("the stream was closed before the execution finished");
    }
    const executionId = finished.executionId;
    switch (finished.status) {
      case "SUCCEEDED":
        return this.outputs;
      case "CANCELED":
        throw new ExecutionCanceledError(executionId, finished);
      default:
        throw new OpFailedError(executionId, this.#failure, finished);
    }
  }

  /**
   * Ask the server to cancel the execution; its events keep coming to the terminal one.
   *
   * Sent as `ExecuteCancel` on the `Execute` stream when this stream started the
   * execution and that RPC is still open, else with `CancelExecution`: that call
   * takes `options` (its headers are added to the stream's).
   */
  async cancel(reason = "", options: CallOptions = {}): Promise<void> {
    const executionId = await this.accepted();
    const queue = this.#queue;
    if (queue !== undefined && !queue.ended) {
      queue.push(create(ExecuteRequestSchema, { kind: { case: "cancel", value: { reason } } }));
      return;
    }
    const headers = mergeHeaders(this.#options.headers, options.headers);
    await this.#host.cancelById(executionId, reason, headers === undefined ? options : { ...options, headers });
  }

  /** End the RPC; iteration stops. The execution keeps running on the server. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#lifetime.abort();
    this.#endCall();
  }

  #observe(event: ExecutionEvent): void {
    this.#delivered = event.sequence;
    switch (event.kind) {
      case "stepRestarted":
        this.#outputs.clear(); // the outputs are those of the final attempt
        break;
      case "output":
        this.#outputs.set(event.outputName, event.value);
        break;
      case "stepFailure":
        this.#failure = event;
        break;
      case "executionFinished":
        this.#finished = event;
        break;
      default:
        break;
    }
  }

  // -- opening ------------------------------------------------------------------------

  #ensureOpen(): Promise<void> {
    // One attempt only: a failed start is never retried, so no second execution starts.
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    if (this.#closed) {
      throw new OpHostClientError("the stream is closed");
    }
    try {
      // No default deadline: a stream runs as long as its execution unless told otherwise.
      this.#scope = new CallScope(this.#options, undefined);
      if (this.#request !== undefined && this.#host.startWith === "StartExecution") {
        await this.#openStarted(this.#request);
      } else if (this.#request !== undefined) {
        await this.#openExecute(this.#request);
      } else {
        this.#openEvents(this.#lastSequence);
      }
    } catch (error) {
      this.#endCall();
      throw this.#signal?.aborted ? this.#signal.reason : error;
    }
  }

  async #openExecute(request: StartRequest): Promise<void> {
    this.#host.checkOpen();
    const scope = this.#scope as CallScope;
    const info = await this.#host.cachedServerInfo(scope.nested());
    const { start, chunks } = request.chunked(info);
    const queue = new RequestQueue();
    queue.push(create(ExecuteRequestSchema, { kind: { case: "start", value: start } }));
    for (const chunk of chunks) {
      queue.push(create(ExecuteRequestSchema, { kind: { case: "chunk", value: chunk } }));
    }
    const call = new AbortController();
    this.#call = call;
    this.#queue = queue;
    const responses = this.#host.rpc.execute(queue, scope.rpcOptions(call.signal))[Symbol.asyncIterator]();
    this.#executeResponses = responses;
    let first: IteratorResult<ExecuteResponse>;
    try {
      first = await responses.next();
    } catch (error) {
      this.#host.checkOpen();
      throw toRpcError(error);
    }
    if (first.done) {
      throw new ProtocolError("the Execute stream ended before the execution was accepted");
    }
    const kind = first.value.kind;
    if (kind.case !== "accepted") {
      throw new ProtocolError(`the Execute stream sent ${kind.case ?? "an unknown message"} before accepted`);
    }
    this.#executionId = kind.value.executionId;
    this.#info = kind.value.execution && decodeExecution(kind.value.execution);
  }

  /** Start with the unary `StartExecution`, then follow the events with `StreamEvents`. */
  async #openStarted(request: StartRequest): Promise<void> {
    this.#host.checkOpen();
    const scope = this.#scope as CallScope;
    const info = await this.#host.cachedServerInfo(scope.nested());
    const start = request.inline(info);
    let response: StartExecutionResponse;
    try {
      response = await this.#host.rpc.startExecution({ start }, scope.rpcOptions(this.#lifetime.signal));
    } catch (error) {
      this.#host.checkOpen();
      throw toRpcError(error);
    }
    if (response.execution === undefined) {
      throw new ProtocolError("StartExecution returned no execution");
    }
    this.#executionId = response.execution.id;
    this.#info = decodeExecution(response.execution);
    this.#openEvents(0n);
  }

  #openEvents(afterSequence: bigint): void {
    this.#host.checkOpen();
    const call = new AbortController();
    const options = (this.#scope as CallScope).rpcOptions(call.signal); // throws once the deadline has passed
    this.#call = call;
    this.#eventResponses = this.#host.rpc
      .streamEvents({ executionId: this.#executionId as string, afterSequence }, options)
      [Symbol.asyncIterator]();
  }

  #endCall(): void {
    this.#queue?.end();
    this.#call?.abort();
    this.#queue = undefined;
    this.#call = undefined;
    this.#executeResponses = undefined;
    this.#eventResponses = undefined;
  }

  // -- receiving ----------------------------------------------------------------------

  /** The events of the next message of the current RPC; `undefined` at its end. */
  async #readBatch(): Promise<readonly Event[] | undefined> {
    const execute = this.#executeResponses;
    if (execute !== undefined) {
      const response = await execute.next();
      if (response.done) {
        return undefined;
      }
      const kind = response.value.kind;
      if (kind.case === "events") {
        return kind.value.events;
      }
      if (kind.case === "accepted") {
        throw new ProtocolError("the Execute stream sent a second accepted");
      }
      return []; // a message kind this client does not know
    }
    const events = this.#eventResponses;
    if (events === undefined) {
      return undefined;
    }
    const response = await events.next();
    return response.done ? undefined : response.value.events;
  }

  /** Read one message and process its events, re-attaching if the RPC broke. */
  async #pump(): Promise<void> {
    let batch: readonly Event[] | undefined;
    try {
      batch = await this.#readBatch();
    } catch (error) {
      if (error instanceof OpHostClientError) {
        throw error; // the protocol was broken: not a transport problem
      }
      if (this.#closed) {
        if (this.#signal?.aborted) {
          throw this.#signal.reason;
        }
        return;
      }
      if (this.#host.closed) {
        throw new ClientClosedError("the ophost client was closed while the stream was open");
      }
      const rpcError = toRpcError(error);
      if (rpcError.grpcCode === Code.DeadlineExceeded) {
        throw rpcError; // the call's own deadline: re-attaching cannot help
      }
      if (!isTransient(rpcError)) {
        throw this.#reattached > 0 ? this.#broken(rpcError) : rpcError;
      }
      await this.#reattach(rpcError);
      return;
    }
    if (batch === undefined) {
      if (!this.#closed && !this.#terminalReceived) {
        await this.#reattach(undefined); // the RPC ended before the terminal event
      }
      return;
    }
    if (batch.length > 0) {
      this.#failures = 0;
    }
    for (const event of batch) {
      this.#process(event);
    }
  }

  #resumePoint(): bigint {
    return this.#pending === undefined ? this.#lastSequence : this.#pending.event.sequence - 1n;
  }

  #broken(error: OpHostRpcError | undefined): StreamBrokenError {
    return new StreamBrokenError(
      this.#executionId ?? "",
      this.#resumePoint(),
      Math.max(this.#failures - 1, 0),
      error,
    );
  }

  async #reattach(error: OpHostRpcError | undefined): Promise<void> {
    if (this.#host.closed) {
      throw new ClientClosedError("the ophost client was closed while the stream was open");
    }
    this.#failures += 1;
    if (this.#failures > this.#host.reattachAttempts) {
      throw this.#broken(error);
    }
    this.#endCall();
    const backoff = Math.min(this.#host.reattachBackoffMs * 2 ** (this.#failures - 1), MAX_REATTACH_BACKOFF_MS);
    const delay = Math.min(backoff, this.#scope?.remainingMs() ?? backoff); // no waiting past the deadline
    try {
      await sleep(delay, undefined, { signal: this.#lifetime.signal });
    } catch {
      return; // closed while waiting
    }
    if (this.#closed) {
      return;
    }
    // Resume from just before an output whose chunks were cut off.
    this.#lastSequence = this.#resumePoint();
    this.#pending = undefined;
    this.#reattached += 1;
    this.#openEvents(this.#lastSequence);
  }

  #process(event: Event): void {
    const sequence = event.sequence;
    const expected = this.#lastSequence + 1n;
    if (sequence !== expected || this.#terminalReceived) {
      const what = this.#terminalReceived ? "after the terminal event" : `not ${expected}`;
      throw new ProtocolError(
        `execution ${this.#executionId}: received event ${sequence}, ${what} ` +
          "(sequences must follow each other without gaps or repeats)",
      );
    }
    this.#lastSequence = sequence;
    const kind = event.kind;
    const pending = this.#pending;
    if (pending !== undefined) {
      if (kind.case !== "valueChunk") {
        throw new ProtocolError(
          `event ${sequence} (${kind.case ?? "unknown"}) came before every chunk of the output ` +
            `in event ${pending.event.sequence} arrived`,
        );
      }
      const value = pending.assembler.add(kind.value);
      if (value !== undefined) {
        this.#pending = undefined;
        if (pending.event.kind.case === "output") {
          pending.event.kind.value.value = value;
        }
        this.#deliver(pending.event);
      }
      return;
    }
    if (kind.case === "valueChunk") {
      if (this.#skipOrphanChunks) {
        return; // attached inside a chunk run: its output came before the start point
      }
      throw new ProtocolError(`event ${sequence} is a value chunk with no output before it`);
    }
    this.#skipOrphanChunks = false;
    if (kind.case === "output" && kind.value.value?.kind.case === "chunkedValue") {
      const ref = kind.value.value.kind.value;
      this.#pending = { event, assembler: new ChunkAssembler(ref, `outputs.${kind.value.outputName}`) };
      return;
    }
    if (kind.case === "executionFinished") {
      this.#terminalReceived = true;
    }
    this.#deliver(event);
  }

  #deliver(event: Event): void {
    const decoded = decodeEvent(event);
    if (decoded !== undefined) {
      this.#ready.push(decoded); // unknown kinds (a newer server) are skipped
    }
  }
}
