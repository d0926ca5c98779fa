/**
 * The type of request headers, shared by the call options and what adds to them (a call's
 * token, the trace context).
 *
 * @module
 */

/** Request headers (gRPC metadata): what `new Headers(...)` takes (`HeadersInit`). */
export type RequestHeaders = NonNullable<ConstructorParameters<typeof Headers>[0]>;
