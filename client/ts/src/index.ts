/**
 * The TypeScript client of ophost: list the ops an ophost server hosts, execute them
 * and watch their events stream back, re-attach after a dropped connection, cancel,
 * and get typed errors.
 *
 * ```ts
 * import { createOpHostClient } from "@ophost/client";
 *
 * await using client = createOpHostClient("127.0.0.1:50051"); // or: await client.close()
 * const { result } = await client.call("add", { a: 2n, b: 3n }); // 5n
 * for await (const event of client.execute("count_up", { n: 3n })) {
 *   console.log(event.sequence, event.kind); // 1n executionStarted, ...
 * }
 * ```
 *
 * @packageDocumentation
 */

// The client is made by createOpHostClient only: the class is exported as a type.
export {
  createOpHostClient,
  type AttachOptions,
  type ExecuteOptions,
  type ListExecutionsOptions,
  type ListOpsOptions,
  type OpHostClient,
} from "./client.js";
export type { ClientAddress } from "./addresses.js";
export type { CallOptions, RequestHeaders } from "./call-options.js";
export { DEFAULTS, type ClientOptions } from "./options.js";
export type { TlsOptions } from "./credentials.js";
export type { StartOptions } from "./request.js";
export { Execution } from "./stream.js";
export { MAX_OUTPUT_BYTES } from "./chunks.js";
export type {
  AssetMaterializationEvent,
  AssetObservationEvent,
  CancelOutcomeName,
  ErrorChainLink,
  ErrorSourceName,
  EventEnvelope,
  ExecutionEvent,
  ExecutionEventKind,
  ExecutionFinishedEvent,
  ExecutionStartedEvent,
  ExecutionStatusName,
  ExpectationResultEvent,
  InputCheckedEvent,
  LogEvent,
  LogLevelName,
  OpError,
  OutputEvent,
  RetryScheduledEvent,
  StepFailureEvent,
  StepRestartedEvent,
  StepStartedEvent,
  StepSuccessEvent,
  TypeCheck,
  UserFailure,
} from "./events.js";
export type { MetadataEntry, MetadataValue, TableColumn, TableSchema } from "./metadata.js";
export {
  ChunkedOutput,
  isTerminalState,
  type ExecutionInfo,
  type ExecutionStateName,
  type ServerInfo,
  type ServerLimits,
} from "./info.js";
export type { OpInput, OpOutput, OpSignature, RetryPolicy } from "./ops.js";
export { fromValue, MAX_DEPTH, PySet, toValue, Tuple, type OpValue } from "./values.js";
export {
  ClientClosedError,
  ExecutionCanceledError,
  ExecutionError,
  OpFailedError,
  OpHostClientError,
  OpHostRpcError,
  ProtocolError,
  StreamBrokenError,
  ValueConversionError,
  type FieldViolation,
  type RpcErrorDetails,
} from "./errors.js";
export { STATUS_CODE_NAMES, type StatusCodeName } from "./status-codes.js";
export type { ConfigField, ConfigType } from "./gen/ophost/v1/config_pb.js";
export type { TypeSpec } from "./gen/ophost/v1/type_pb.js";
export type { OpDefinition } from "./gen/ophost/v1/op_pb.js";
