/**
 * gRPC status codes by name (the names of `google.rpc.Code`).
 *
 * @module
 */

/** The gRPC status code names, indexed by code number. */
export const STATUS_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** The name of a gRPC status code, such as `NOT_FOUND`. */
export type StatusCodeName = (typeof STATUS_CODE_NAMES)[number];

/** The name of status code `code`; codes outside the table count as `UNKNOWN`. */
export function statusCodeName(code: number): StatusCodeName {
  return STATUS_CODE_NAMES[code] ?? "UNKNOWN";
}
