/** The active OpenTelemetry span goes with every RPC of a call as `traceparent`, against a real server. */

import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { after, before, describe, it } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { type Context, type ContextManager, context, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { createOpHostClient, type OpHostClient } from "../src/index.js";
import { startServer, type TestServer } from "./server.js";

/** What the OpenTelemetry Node SDK registers: the active context follows async calls. */
class AsyncContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }

  bind<T>(_ctx: Context, target: T): T {
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const SPAN_ID = "b7ad6b7169203331";
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

let server: TestServer;
let client: OpHostClient;
const sent: [string, string | null][] = [];

const recorder: Interceptor = (next) => async (request) => {
  sent.push([request.method.name, new Headers(request.header).get("traceparent")]);
  return next(request);
};

function inSpan<T>(work: () => Promise<T>): Promise<T> {
  const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
  return context.with(trace.setSpan(ROOT_CONTEXT, span), work);
}

before(async () => {
  context.setGlobalContextManager(new AsyncContextManager());
  server = await startServer();
  client = createOpHostClient(server.address, { interceptors: [recorder] });
});

after(async () => {
  await client.close();
  await server.stop();
  context.disable();
});

describe("traceparent", () => {
  it("goes with every RPC of a call made in a span", async () => {
    sent.length = 0;
    await inSpan(async () => {
      await client.listOps();
      assert.deepEqual(await client.call("add", { a: 1n, b: 2n }), { result: 3n });
    });
    assert.deepEqual(sent, [
      ["ListOps", TRACEPARENT],
      ["GetServerInfo", TRACEPARENT],
      ["Execute", TRACEPARENT],
    ]);
  });

  it("is not sent outside a span", async () => {
    sent.length = 0;
    await client.getOp("add");
    assert.deepEqual(sent, [["GetOp", null]]);
  });

  it("given by the caller wins", async () => {
    sent.length = 0;
    const mine = "00-11111111111111111111111111111111-2222222222222222-01";
    await inSpan(() => client.getOp("add", { headers: { traceparent: mine } }));
    assert.deepEqual(sent, [["GetOp", mine]]);
  });
});
