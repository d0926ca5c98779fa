// The console's connection to the host: an OpHostService client over the host's
// HTTP door (the same origin that served the page), with the user's token, and
// helpers to read the errors the host returns.
//
// The calls use the door's gRPC-Web protocol rather than Connect's: a refused
// Connect unary call answers with an HTTP error status (400, 401, 404...), which
// browsers log as an error in their console even when the page handles it, while
// gRPC-Web answers HTTP 200 and carries the status and its details in trailers.
// Both reach the same service, tokens and error details.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb";
import { OpHostService } from "./gen/ophost/v1/op_host_service_pb";
import { getToken } from "./token";

export type OpHost = Client<typeof OpHostService>;

const withToken: Interceptor = (next) => async (request) => {
  const token = getToken();
  if (token) request.header.set("authorization", `Bearer ${token}`);
  return next(request);
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  useBinaryFormat: true,
  interceptors: [withToken],
});

/** The client every view uses. */
export const host: OpHost = createClient(OpHostService, transport);

/** One field the host named in an INVALID_ARGUMENT error: "inputs.a", "config.db.port". */
export interface Violation {
  field: string;
  description: string;
}

/** What the console shows of a failed call. */
export interface CallError {
  code: Code;
  codeName: string;
  message: string;
  reason: string;
  violations: Violation[];
}

/** Reads any error thrown by a call into its code, message, reason and field violations. */
export function callError(error: unknown): CallError {
  const connectError = ConnectError.from(error);
  const violations: Violation[] = [];
  for (const detail of connectError.findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) violations.push({ field: v.field, description: v.description });
  }
  const info = connectError.findDetails(ErrorInfoSchema)[0];
  return {
    code: connectError.code,
    codeName: codeName(connectError.code),
    message: connectError.rawMessage,
    reason: info?.reason ?? "",
    violations,
  };
}

/** The status code's name as gRPC spells it (UNAUTHENTICATED, NOT_FOUND...). */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Whether the error means the host wants a (valid) token. */
export function needsToken(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Unauthenticated;
}

/** Whether the error is an abort the console caused itself (leaving a page). */
export function isAbort(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Canceled;
}
