/**
 * The errors the client throws.
 *
 * ```
 * OpHostClientError
 * ├── OpHostRpcError          an RPC failed: status code, message, and the google.rpc
 * │                           details the server attached (reason, field violations,
 * │                           retry delay); also transport failures (UNAVAILABLE, ...)
 * ├── ExecutionError          the execution ran and did not succeed
 * │   ├── OpFailedError       the op failed (its error chain and failure event)
 * │   └── ExecutionCanceledError
 * ├── StreamBrokenError       an event stream broke and re-attaching gave up
 * ├── ValueConversionError    a value has no wire form (or a received one is malformed)
 * ├── ClientClosedError       the client was closed
 * └── ProtocolError           the server broke the protocol (a sequence gap, ...)
 * ```
 *
 * An op that raises is not an RPC error: its stream ends normally with a failure
 * event, and only the helpers that wait for a result (`call`, `Execution.result`)
 * turn it into an {@link OpFailedError}.
 *
 * @module
 */

import type { ErrorChainLink, ExecutionFinishedEvent, OpError, StepFailureEvent, UserFailure } from "./events.js";
import { OpHostClientError, ValueConversionError } from "./client-error.js";
import type { StatusCodeName } from "./status-codes.js";

// Kept beside the values they convert, which the events below depend on: re-exported here
// with the rest of the hierarchy.
export { OpHostClientError, ValueConversionError };

/** One `google.rpc.BadRequest` field violation: which field, and what is wrong with it. */
export interface FieldViolation {
  /** The path of the offending field, such as `inputs.a` or `config.db.port`. */
  readonly field: string;
  /** What is wrong with it. */
  readonly description: string;
}

/** What an {@link OpHostRpcError} is made of. */
export interface RpcErrorDetails {
  readonly reason?: string;
  readonly domain?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly violations?: readonly FieldViolation[];
  readonly retryDelaySeconds?: number;
}

/**
 * An RPC failed with a gRPC status.
 *
 * `code` is the status code's name (`NOT_FOUND`), `grpcCode` its number. `reason`,
 * `domain` and `metadata` come from the `google.rpc.ErrorInfo` an ophost server
 * attaches to every error (`OP_NOT_FOUND`, `INVALID_INPUT`, ...; empty for errors of
 * the transport itself), `violations` from its `BadRequest`, and `retryDelaySeconds`
 * from its `RetryInfo`, when present.
 */
export class OpHostRpcError extends OpHostClientError {
  readonly code: StatusCodeName;
  readonly grpcCode: number;
  /** The status message, without the code and details. */
  readonly rawMessage: string;
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly violations: readonly FieldViolation[];
  readonly retryDelaySeconds: number | undefined;

  constructor(code: StatusCodeName, grpcCode: number, message: string, details: RpcErrorDetails = {}, options?: ErrorOptions) {
    super(describe(code, message, details), options);
    this.code = code;
    this.grpcCode = grpcCode;
    this.rawMessage = message;
    this.reason = details.reason ?? "";
    this.domain = details.domain ?? "";
    this.metadata = { ...details.metadata };
    this.violations = [...(details.violations ?? [])];
    this.retryDelaySeconds = details.retryDelaySeconds;
  }

  /** The paths of the field violations (`inputs.b`, `config.db.port`). */
  get fields(): string[] {
    return this.violations.map((violation) => violation.field);
  }
}

function describe(code: string, message: string, details: RpcErrorDetails): string {
  let text = message ? `${code}: ${message}` : code;
  if (details.reason) {
    text += ` [${details.reason}]`;
  }
  for (const violation of details.violations ?? []) {
    text += `\n  ${violation.field}: ${violation.description}`;
  }
  return text;
}

/** An execution finished without succeeding; `finished` is its terminal event. */
export class ExecutionError extends OpHostClientError {
  readonly executionId: string;
  readonly finished: ExecutionFinishedEvent;

  constructor(message: string, executionId: string, finished: ExecutionFinishedEvent) {
    super(message);
    this.executionId = executionId;
    this.finished = finished;
  }
}

/**
 * The op failed (after its retries, if it had any).
 *
 * `error` is the op's exception as data (type name, message, stack, causes), taken
 * from the last step failure or else from the terminal event; `chain` lists it with
 * its causes, outermost first. `failure` is the last `stepFailure` event (absent when
 * the stream never showed one, e.g. attached after it) and `userFailure` what the op
 * attached when it raised `Failure`.
 */
export class OpFailedError extends ExecutionError {
  readonly failure: StepFailureEvent | undefined;
  readonly error: OpError | undefined;
  readonly userFailure: UserFailure | undefined;

  constructor(executionId: string, failure: StepFailureEvent | undefined, finished: ExecutionFinishedEvent) {
    const error = failure?.error ?? finished.error;
    const userFailure = failure?.userFailure;
    let message = `execution ${executionId} of op "${finished.opName}" failed`;
    if (error !== undefined) {
      message += `: ${error.typeName}: ${error.message}`;
      if (error.errorId !== undefined && !error.message.includes(error.errorId)) {
        message += ` (error id ${error.errorId})`;
      }
    }
    const description = userFailure?.description;
    if (description !== undefined && description !== error?.message) {
      message += ` (${description})`;
    }
    super(message, executionId, finished);
    this.failure = failure;
    this.error = error;
    this.userFailure = userFailure;
  }

  /** The error and its causes, outermost first (following `cause`, else `context`). */
  get chain(): ErrorChainLink[] {
    const links: ErrorChainLink[] = [];
    for (let error = this.error; error !== undefined; error = error.cause ?? error.context) {
      links.push({ typeName: error.typeName, message: error.message });
    }
    return links;
  }
}

/** The execution was canceled; `cancelOutcome` says how (docs/protocol.md, 10.4). */
export class ExecutionCanceledError extends ExecutionError {
  readonly cancelOutcome: ExecutionFinishedEvent["cancelOutcome"];

  constructor(executionId: string, finished: ExecutionFinishedEvent) {
    const how = finished.cancelOutcome === undefined ? "" : ` (${finished.cancelOutcome.toLowerCase()})`;
    super(`execution ${executionId} of op "${finished.opName}" was canceled${how}`, executionId, finished);
    this.cancelOutcome = finished.cancelOutcome;
  }
}

/**
 * An event stream broke and re-attaching gave up.
 *
 * `lastSequence` is the last sequence fully delivered: continue with
 * `client.attach(executionId, lastSequence)`. `lastError` is the error of the last
 * attempt (also the `cause`), if there was one.
 */
export class StreamBrokenError extends OpHostClientError {
  readonly executionId: string;
  readonly lastSequence: bigint;
  readonly attempts: number;
  readonly lastError: OpHostRpcError | undefined;

  constructor(executionId: string, lastSequence: bigint, attempts: number, lastError: OpHostRpcError | undefined) {
    const why = lastError === undefined ? "" : `: ${lastError.message}`;
    super(
      `the event stream of execution ${executionId} broke after sequence ${lastSequence} ` +
        `and ${attempts} re-attach attempt(s) failed${why}`,
      lastError === undefined ? undefined : { cause: lastError },
    );
    this.executionId = executionId;
    this.lastSequence = lastSequence;
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

/** The client was closed: no more calls, and its open streams end with this error. */
export class ClientClosedError extends OpHostClientError {
  constructor(message = "the ophost client is closed") {
    super(message);
  }
}

/** The server sent something the protocol does not allow. */
export class ProtocolError extends OpHostClientError {}
