/**
 * What the server describes: itself ({@link ServerInfo}) and its executions
 * ({@link ExecutionInfo}).
 *
 * @module
 */

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { decodeError, type OpError } from "./events.js";
import { type Execution as ExecutionMessage, ExecutionState as ExecutionStateEnum } from "./gen/ophost/v1/execution_pb.js";
import type { GetServerInfoResponse } from "./gen/ophost/v1/op_host_service_pb.js";
import { fromValue } from "./values.js";

/** The server's limits; `maxConcurrentExecutions` 0 means no limit. */
export interface ServerLimits {
  /** Values whose serialized `Value` is at most this long travel inline. */
  readonly inlineThresholdBytes: number;
  /** The most bytes in one chunk. */
  readonly chunkSizeBytes: number;
  readonly maxMessageBytes: number;
  readonly maxConcurrentExecutions: number;
  /** How long a finished execution stays retrievable, in seconds. */
  readonly eventRetentionSeconds: number;
}

/** What `GetServerInfo` says. `serverId` changes whenever the server restarts. */
export interface ServerInfo {
  readonly protocolVersion: string;
  readonly ophostVersion: string;
  readonly serverId: string;
  readonly limits: ServerLimits;
  readonly capabilities: ReadonlySet<string>;
}

/** Decode a `GetServerInfoResponse`. */
export function decodeServerInfo(response: GetServerInfoResponse): ServerInfo {
  const limits = response.limits;
  const retention = limits?.eventRetention;
  return {
    protocolVersion: response.protocolVersion,
    ophostVersion: response.ophostVersion,
    serverId: response.serverId,
    limits: {
      inlineThresholdBytes: limits?.inlineThresholdBytes ?? 0,
      chunkSizeBytes: limits?.chunkSizeBytes ?? 0,
      maxMessageBytes: limits?.maxMessageBytes ?? 0,
      maxConcurrentExecutions: limits?.maxConcurrentExecutions ?? 0,
      eventRetentionSeconds: retention === undefined ? 0 : Number(retention.seconds) + retention.nanos / 1e9,
    },
    capabilities: new Set(response.capabilities),
  };
}

/** The state of an execution (`ExecutionState` without its prefix). */
export type ExecutionStateName =
  | "UNSPECIFIED"
  | "PENDING"
  | "RUNNING"
  | "CANCEL_REQUESTED"
  | "SUCCEEDED"
  | "FAILED"
  | "CANCELED";

const TERMINAL_STATES: ReadonlySet<ExecutionStateName> = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

/** Whether an execution in `state` has finished. */
export function isTerminalState(state: ExecutionStateName): boolean {
  return TERMINAL_STATES.has(state);
}

/** The wire value of a state name. */
export function executionStateValue(state: ExecutionStateName): ExecutionStateEnum {
  return ExecutionStateEnum[state];
}

/**
 * Stands in for an output too large to travel inline in an `Execution`: its value
 * travels as chunks on the event stream (read it with `client.attach(id).result()`).
 */
export class ChunkedOutput {
  constructor(
    readonly valueId: string,
    readonly totalSizeBytes: bigint,
    readonly chunkCount: number,
  ) {}
}

/**
 * One execution as the server describes it. `outputs` holds the outputs produced so
 * far (a {@link ChunkedOutput} for a large one); `error` is set when it failed.
 */
export interface ExecutionInfo {
  readonly id: string;
  readonly opName: string;
  readonly requestId: string;
  readonly state: ExecutionStateName;
  readonly attempt: number;
  /** The sequence of the last event recorded so far. */
  readonly lastSequence: bigint;
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly error: OpError | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly createTime: Date | undefined;
  readonly startTime: Date | undefined;
  readonly finishTime: Date | undefined;
  /** Whether the execution has finished. */
  readonly isTerminal: boolean;
}

/** Decode an `Execution`. */
export function decodeExecution(message: ExecutionMessage): ExecutionInfo {
  const outputs: Record<string, unknown> = {};
  for (const named of message.outputs) {
    const kind = named.value?.kind;
    outputs[named.name] =
      kind?.case === "chunkedValue"
        ? new ChunkedOutput(kind.value.valueId, kind.value.totalSizeBytes, kind.value.chunkCount)
        : named.value === undefined
          ? null
          : fromValue(named.value, `outputs.${named.name}`);
  }
  const name = ExecutionStateEnum[message.state];
  const state = (name === undefined ? "UNSPECIFIED" : name) as ExecutionStateName;
  return {
    id: message.id,
    opName: message.opName,
    requestId: message.requestId,
    state,
    attempt: message.attempt,
    lastSequence: message.lastSequence,
    outputs,
    error: decodeError(message.error),
    tags: { ...message.tags },
    createTime: message.createTime && timestampDate(message.createTime),
    startTime: message.startTime && timestampDate(message.startTime),
    finishTime: message.finishTime && timestampDate(message.finishTime),
    isTerminal: isTerminalState(state),
  };
}
