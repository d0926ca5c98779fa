/**
 * The caller's trace context, sent with each call when OpenTelemetry is installed.
 *
 * When `@opentelemetry/api` can be loaded (an optional peer dependency of this client)
 * and the active context has a valid span, the call's headers carry that span's
 * context: what the global propagator writes, and always a W3C `traceparent` (the
 * API's default propagator writes nothing until an SDK registers one). The server
 * makes its spans children of it. Headers the caller set win: a `traceparent` given
 * in the call's options is sent as it is.
 *
 * The active context reaches an `await`ed call only with a context manager (the
 * OpenTelemetry Node SDK registers one); the span is the one active when the call
 * starts (for a stream, when it opens).
 *
 * @module
 */

import { createRequire } from "node:module";
import type * as OtelApi from "@opentelemetry/api";
import type { RequestHeaders } from "./headers.js";

function loadApi(): typeof OtelApi | undefined {
  try {
    return createRequire(import.meta.url)("@opentelemetry/api") as typeof OtelApi;
  } catch {
    return undefined; // not installed: nothing to send
  }
}

const api = loadApi();

/** `headers` with the active span's context added; `headers` itself when there is none. */
export function withTraceContext(headers: RequestHeaders | undefined): RequestHeaders | undefined {
  if (api === undefined) {
    return headers;
  }
  const active = api.context.active();
  const span = api.trace.getSpanContext(active);
  if (span === undefined || !api.trace.isSpanContextValid(span)) {
    return headers;
  }
  const merged = new Headers(headers);
  if (merged.has("traceparent")) {
    return headers;
  }
  const carrier: Record<string, string> = {};
  api.propagation.inject(active, carrier);
  carrier["traceparent"] ??= `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  for (const [name, value] of Object.entries(carrier)) {
    merged.set(name, value);
  }
  return merged;
}
