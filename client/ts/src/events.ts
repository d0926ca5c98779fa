/**
 * Execution events (docs/protocol.md, section 10) as a discriminated union on `kind`.
 *
 * `value_chunk` events never reach the application: the stream reassembles a chunked
 * output and hands out one `output` event holding the whole value.
 *
 * @module
 */

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ErrorData } from "./gen/ophost/v1/error_pb.js";
import {
  CancelOutcome,
  ErrorSource,
  type Event,
  ExecutionStatus,
  LogLevel,
  type TypeCheckResult,
  type UserFailure as UserFailureMessage,
} from "./gen/ophost/v1/event_pb.js";
import { decodeMetadata, type MetadataEntry } from "./metadata.js";
import { fromValue, type OpValue } from "./values.js";

/** An exception raised by an op, as data, with its cause and context. */
export interface OpError {
  /** The qualified class name, such as `builtins.ValueError`. */
  readonly typeName: string;
  readonly message: string;
  /** One formatted frame per element, most recent call last. */
  readonly stack: readonly string[];
  /** The explicit cause (`raise ... from exc`). */
  readonly cause: OpError | undefined;
  /** The implicit context, set only when there is no cause and Python would print it. */
  readonly context: OpError | undefined;
  /**
   * Set when the host withheld the error's details (`ophost serve --withhold-errors`):
   * `message` then only says so, `stack` is empty and the causes keep their type name
   * alone. The host's log has the whole error under this id.
   */
  readonly errorId: string | undefined;
}

/** One link of an error chain: a type name and a message. */
export interface ErrorChainLink {
  readonly typeName: string;
  readonly message: string;
}

/** The outcome of a type check. */
export interface TypeCheck {
  readonly success: boolean;
  readonly description: string | undefined;
  readonly metadata: readonly MetadataEntry[];
}

/** What an op attached when it raised `Failure`. */
export interface UserFailure {
  readonly description: string | undefined;
  readonly metadata: readonly MetadataEntry[];
}

/** The severity of a log line. */
export type LogLevelName = "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" | "UNSPECIFIED";
/** Who is responsible for a step failure. */
export type ErrorSourceName = "USER_CODE" | "FRAMEWORK" | "INTERRUPT" | "UNEXPECTED" | "UNSPECIFIED";
/** How an execution ended. */
export type ExecutionStatusName = "SUCCEEDED" | "FAILED" | "CANCELED" | "UNSPECIFIED";
/** How a canceled execution was stopped. */
export type CancelOutcomeName = "NOT_STARTED" | "COOPERATIVE" | "FORCED" | "ABANDONED";

/** What every event carries. */
export interface EventEnvelope {
  readonly executionId: string;
  /** Position in the execution's event log: 1, 2, 3, ... without gaps (a `uint64`, exact as a `bigint`). */
  readonly sequence: bigint;
  /** 0 for the first attempt, n for the n-th retry. */
  readonly attempt: number;
  /** When the server recorded the event (for display; order by `sequence`). */
  readonly timestamp: Date | undefined;
  readonly opName: string;
}

export interface ExecutionStartedEvent extends EventEnvelope {
  readonly kind: "executionStarted";
  readonly requestId: string;
}
export interface StepStartedEvent extends EventEnvelope {
  readonly kind: "stepStarted";
}
export interface StepRestartedEvent extends EventEnvelope {
  readonly kind: "stepRestarted";
}
export interface InputCheckedEvent extends EventEnvelope {
  readonly kind: "inputChecked";
  readonly inputName: string;
  readonly typeCheck: TypeCheck | undefined;
}
export interface OutputEvent extends EventEnvelope {
  readonly kind: "output";
  readonly outputName: string;
  /** The decoded value (reassembled first when it travelled in chunks). */
  readonly value: OpValue;
  readonly metadata: readonly MetadataEntry[];
  readonly typeCheck: TypeCheck | undefined;
}
export interface AssetMaterializationEvent extends EventEnvelope {
  readonly kind: "assetMaterialization";
  readonly assetKey: readonly string[];
  readonly description: string | undefined;
  readonly metadata: readonly MetadataEntry[];
  readonly partition: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
}
/** What the op saw of an asset (metadata about it), without creating or updating it. */
export interface AssetObservationEvent extends EventEnvelope {
  readonly kind: "assetObservation";
  readonly assetKey: readonly string[];
  readonly description: string | undefined;
  readonly metadata: readonly MetadataEntry[];
  readonly partition: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
}
export interface ExpectationResultEvent extends EventEnvelope {
  readonly kind: "expectationResult";
  readonly success: boolean;
  readonly label: string;
  readonly description: string | undefined;
  readonly metadata: readonly MetadataEntry[];
}
export interface LogEvent extends EventEnvelope {
  readonly kind: "log";
  readonly level: LogLevelName;
  readonly message: string;
  readonly loggerName: string;
}
export interface RetryScheduledEvent extends EventEnvelope {
  readonly kind: "retryScheduled";
  readonly failedAttempt: number;
  readonly nextAttempt: number;
  /** Negative (PLUS_MINUS jitter) means no wait. */
  readonly delaySeconds: number;
  readonly error: OpError | undefined;
}
export interface StepFailureEvent extends EventEnvelope {
  readonly kind: "stepFailure";
  readonly error: OpError | undefined;
  readonly errorSource: ErrorSourceName;
  readonly userFailure: UserFailure | undefined;
  readonly willRetry: boolean;
}
export interface StepSuccessEvent extends EventEnvelope {
  readonly kind: "stepSuccess";
  /** How long the successful attempt ran, in seconds. */
  readonly durationSeconds: number;
}
export interface ExecutionFinishedEvent extends EventEnvelope {
  readonly kind: "executionFinished";
  readonly status: ExecutionStatusName;
  /** Set when `status` is `FAILED`. */
  readonly error: OpError | undefined;
  readonly cancelRequested: boolean;
  /** Set when `status` is `CANCELED`. */
  readonly cancelOutcome: CancelOutcomeName | undefined;
}

/** Any event an execution stream hands out. Switch on `kind`. */
export type ExecutionEvent =
  | ExecutionStartedEvent
  | StepStartedEvent
  | StepRestartedEvent
  | InputCheckedEvent
  | OutputEvent
  | AssetMaterializationEvent
  | AssetObservationEvent
  | ExpectationResultEvent
  | LogEvent
  | RetryScheduledEvent
  | StepFailureEvent
  | StepSuccessEvent
  | ExecutionFinishedEvent;

/** The `kind` of an {@link ExecutionEvent}. */
export type ExecutionEventKind = ExecutionEvent["kind"];

/** Decode an `ErrorData` and its causes. */
export function decodeError(error: ErrorData | undefined): OpError | undefined {
  if (error === undefined) {
    return undefined;
  }
  return {
    typeName: error.typeName,
    message: error.message,
    stack: [...error.stack],
    cause: decodeError(error.cause),
    context: decodeError(error.context),
    errorId: error.errorId === "" ? undefined : error.errorId,
  };
}

function decodeTypeCheck(check: TypeCheckResult | undefined): TypeCheck | undefined {
  return check === undefined
    ? undefined
    : { success: check.success, description: check.description, metadata: decodeMetadata(check.metadata) };
}

function decodeUserFailure(failure: UserFailureMessage | undefined): UserFailure | undefined {
  return failure === undefined
    ? undefined
    : { description: failure.description, metadata: decodeMetadata(failure.metadata) };
}

/** The name of an enum value (protobuf-es drops the enum's prefix); unknown values are UNSPECIFIED. */
function enumName<E extends Record<number, string>>(names: E, value: number): string {
  return names[value] ?? "UNSPECIFIED";
}

function cancelOutcomeName(outcome: CancelOutcome): CancelOutcomeName | undefined {
  const name = enumName(CancelOutcome, outcome);
  return name === "UNSPECIFIED" ? undefined : (name as CancelOutcomeName);
}

/**
 * Decode one event. Returns `undefined` for a `value_chunk` and for an event kind
 * this client does not know (a newer server), which the stream skips.
 */
export function decodeEvent(event: Event): ExecutionEvent | undefined {
  const envelope: EventEnvelope = {
    executionId: event.executionId,
    sequence: event.sequence,
    attempt: event.attempt,
    timestamp: event.timestamp === undefined ? undefined : timestampDate(event.timestamp),
    opName: event.opName,
  };
  const kind = event.kind;
  switch (kind.case) {
    case "executionStarted":
      return { ...envelope, kind: "executionStarted", requestId: kind.value.requestId };
    case "stepStarted":
      return { ...envelope, kind: "stepStarted" };
    case "stepRestarted":
      return { ...envelope, kind: "stepRestarted" };
    case "inputChecked":
      return {
        ...envelope,
        kind: "inputChecked",
        inputName: kind.value.inputName,
        typeCheck: decodeTypeCheck(kind.value.typeCheck),
      };
    case "output": {
      const path = `outputs.${kind.value.outputName}`;
      return {
        ...envelope,
        kind: "output",
        outputName: kind.value.outputName,
        value: kind.value.value === undefined ? null : fromValue(kind.value.value, path),
        metadata: decodeMetadata(kind.value.metadata),
        typeCheck: decodeTypeCheck(kind.value.typeCheck),
      };
    }
    case "assetMaterialization":
      return {
        ...envelope,
        kind: "assetMaterialization",
        assetKey: [...(kind.value.assetKey?.path ?? [])],
        description: kind.value.description,
        metadata: decodeMetadata(kind.value.metadata),
        partition: kind.value.partition,
        tags: { ...kind.value.tags },
      };
    case "assetObservation":
      return {
        ...envelope,
        kind: "assetObservation",
        assetKey: [...(kind.value.assetKey?.path ?? [])],
        description: kind.value.description,
        metadata: decodeMetadata(kind.value.metadata),
        partition: kind.value.partition,
        tags: { ...kind.value.tags },
      };
    case "expectationResult":
      return {
        ...envelope,
        kind: "expectationResult",
        success: kind.value.success,
        label: kind.value.label,
        description: kind.value.description,
        metadata: decodeMetadata(kind.value.metadata),
      };
    case "log":
      return {
        ...envelope,
        kind: "log",
        level: enumName(LogLevel, kind.value.level) as LogLevelName,
        message: kind.value.message,
        loggerName: kind.value.loggerName,
      };
    case "retryScheduled":
      return {
        ...envelope,
        kind: "retryScheduled",
        failedAttempt: kind.value.failedAttempt,
        nextAttempt: kind.value.nextAttempt,
        delaySeconds: kind.value.delaySeconds,
        error: decodeError(kind.value.error),
      };
    case "stepFailure":
      return {
        ...envelope,
        kind: "stepFailure",
        error: decodeError(kind.value.error),
        errorSource: enumName(ErrorSource, kind.value.errorSource) as ErrorSourceName,
        userFailure: decodeUserFailure(kind.value.userFailure),
        willRetry: kind.value.willRetry,
      };
    case "stepSuccess": {
      const duration = kind.value.duration;
      return {
        ...envelope,
        kind: "stepSuccess",
        durationSeconds: duration === undefined ? 0 : Number(duration.seconds) + duration.nanos / 1e9,
      };
    }
    case "executionFinished":
      return {
        ...envelope,
        kind: "executionFinished",
        status: enumName(ExecutionStatus, kind.value.status) as ExecutionStatusName,
        error: decodeError(kind.value.error),
        cancelRequested: kind.value.cancelRequested,
        cancelOutcome: cancelOutcomeName(kind.value.cancelOutcome),
      };
    case "valueChunk":
    case undefined:
      return undefined;
  }
}
