/**
 * RPC failures → {@link OpHostRpcError}, and which of them a stream may survive.
 *
 * An ophost server puts a `google.rpc.Status` in the `grpc-status-details-bin`
 * trailer of every error (docs/protocol.md, section 13); Connect decodes it into
 * `ConnectError.details`, read here with `findDetails`.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { OpHostRpcError, type RpcErrorDetails } from "./errors.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { statusCodeName } from "./status-codes.js";

/** Translate any error thrown by a Connect call into an {@link OpHostRpcError}. */
export function toRpcError(error: unknown): OpHostRpcError {
  if (error instanceof OpHostRpcError) {
    return error;
  }
  const connect = ConnectError.from(error);
  const details: { -readonly [K in keyof RpcErrorDetails]: RpcErrorDetails[K] } = {};
  try {
    const info = connect.findDetails(ErrorInfoSchema)[0];
    if (info !== undefined) {
      details.reason = info.reason;
      details.domain = info.domain;
      details.metadata = { ...info.metadata };
    }
    details.violations = connect
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    const retry = connect.findDetails(RetryInfoSchema)[0]?.retryDelay;
    if (retry !== undefined) {
      details.retryDelaySeconds = Number(retry.seconds) + retry.nanos / 1e9;
    }
  } catch {
    // Unreadable details: keep the code and the message.
  }
  return new OpHostRpcError(statusCodeName(connect.code), connect.code, connect.rawMessage, details, { cause: error });
}

/** Codes a broken connection or a reset stream produces without the server deciding anything. */
const TRANSPORT_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Canceled,
  Code.Aborted,
]);

/**
 * Whether a stream that failed with `error` may be resumed by re-attaching:
 * `UNAVAILABLE` always; the other transport codes only when the server's logic did
 * not produce them (the server always attaches an `ErrorInfo`, so a reason).
 */
export function isTransient(error: OpHostRpcError): boolean {
  if (error.grpcCode === Code.Unavailable) {
    return true;
  }
  return TRANSPORT_CODES.has(error.grpcCode) && error.reason === "";
}
