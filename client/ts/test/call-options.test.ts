/** Per-call options (timeoutMs, signal, headers) on every method, against a real server. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { createOpHostClient, type OpHostClient, OpHostRpcError, StreamBrokenError } from "../src/index.js";
import { ResettingProxy } from "./proxy.js";
import { startServer, type TestServer } from "./server.js";

/** One RPC as the client's interceptor saw it leave. */
interface SentRpc {
  readonly method: string;
  readonly headers: Headers;
}

let server: TestServer;
let client: OpHostClient;
const sent: SentRpc[] = [];

/** Records the method and the request headers of every RPC the client makes. */
const recorder: Interceptor = (next) => async (request) => {
  sent.push({ method: request.method.name, headers: new Headers(request.header) });
  return next(request);
};

before(async () => {
  server = await startServer();
  client = createOpHostClient(server.address, { interceptors: [recorder] });
});

after(async () => {
  await client.close();
  await server.stop();
});

/** The RPCs `work` made, after checking that each one carried the header `x-call: <tag>`. */
async function rpcsOf(tag: string, work: () => Promise<unknown>): Promise<string[]> {
  sent.length = 0;
  await work();
  for (const rpc of sent) {
    assert.equal(rpc.headers.get("x-call"), tag, `${rpc.method} of ${tag}`);
  }
  return sent.map((rpc) => rpc.method);
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const event of stream) void event;
}

/** Cancel what a test left running, so that the server stops promptly. */
async function cancelRunning(opName: string): Promise<void> {
  for (const execution of await client.listExecutions({ opName, states: ["PENDING", "RUNNING"] })) {
    await client.cancel(execution.id);
  }
}

describe("headers", () => {
  it("go with every RPC of every method", async () => {
    const headers = (tag: string) => ({ headers: { "x-call": tag } });
    assert.deepEqual(await rpcsOf("info", () => client.serverInfo(headers("info"))), ["GetServerInfo"]);
    assert.deepEqual(await rpcsOf("ops", () => client.listOps(headers("ops"))), ["ListOps"]);
    assert.deepEqual(await rpcsOf("op", () => client.getOp("add", headers("op"))), ["GetOp"]);
    assert.deepEqual(await rpcsOf("call", () => client.call("add", { a: 1n, b: 2n }, headers("call"))), ["Execute"]);
    const execution = client.execute("add", { a: 1n, b: 2n }, headers("execute"));
    assert.deepEqual(await rpcsOf("execute", () => drain(execution)), ["Execute"]);
    const id = execution.executionId ?? assert.fail("no execution id");
    assert.deepEqual(await rpcsOf("attach", () => drain(client.attach(id, 0n, headers("attach")))), ["StreamEvents"]);
    assert.deepEqual(await rpcsOf("cancel", () => client.cancel(id, "", headers("cancel"))), ["CancelExecution"]);
    assert.deepEqual(await rpcsOf("get", () => client.getExecution(id, headers("get"))), ["GetExecution"]);
    assert.deepEqual(await rpcsOf("list", () => client.listExecutions(headers("list"))), ["ListExecutions"]);
  });

  it("of the server-info look-up are those of the stream that needs it", async () => {
    const fresh = createOpHostClient(server.address, { interceptors: [recorder] });
    try {
      const calls = await rpcsOf("first", () => fresh.call("add", { a: 1n, b: 2n }, { headers: { "x-call": "first" } }));
      assert.deepEqual(calls, ["GetServerInfo", "Execute"]);
    } finally {
      await fresh.close();
    }
  });

  it("of a stream are added to those Execution.cancel is given", async () => {
    const execution = client.execute("add", { a: 1n, b: 2n }, { headers: { "x-call": "stream", "x-tenant": "t1" } });
    await drain(execution); // the Execute RPC has ended: cancel() makes a CancelExecution call
    sent.length = 0;
    await execution.cancel("late", { headers: { "x-call": "cancel" } });
    assert.deepEqual(
      sent.map((rpc) => [rpc.method, rpc.headers.get("x-call"), rpc.headers.get("x-tenant")]),
      [["CancelExecution", "cancel", "t1"]],
    );
  });
});

describe("timeoutMs", () => {
  /** The grpc-timeout header of the only RPC `work` made. */
  async function grpcTimeout(work: () => Promise<unknown>): Promise<string | null> {
    sent.length = 0;
    await work();
    assert.equal(sent.length, 1);
    return sent[0]?.headers.get("grpc-timeout") ?? null;
  }

  it("replaces the client's default deadline of a unary call", async () => {
    assert.equal(await grpcTimeout(() => client.getOp("add")), "30000m");
    assert.equal(await grpcTimeout(() => client.getOp("add", { timeoutMs: 1234 })), "1234m");
    assert.equal(await grpcTimeout(() => client.getOp("add", { timeoutMs: null })), null);
  });

  it("gives a stream a deadline only when one is given", async () => {
    const id = (await client.listExecutions({ opName: "add" }))[0]?.id ?? assert.fail("no execution of add");
    assert.equal(await grpcTimeout(() => drain(client.attach(id))), null);
    const timeout = await grpcTimeout(() => drain(client.attach(id, 0n, { timeoutMs: 5000 })));
    assert.match(timeout ?? "", /^\d+m$/);
    assert.ok(Number.parseInt(timeout ?? "", 10) <= 5000);
  });

  it("on call() of a slow op rejects with DEADLINE_EXCEEDED", async () => {
    const started = performance.now();
    await assert.rejects(client.call("slow_square", { x: 3, delay: 5 }, { timeoutMs: 200 }), (error: unknown) => {
      assert.ok(error instanceof OpHostRpcError);
      assert.equal(error.code, "DEADLINE_EXCEEDED");
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2000, `${elapsed} ms`);
    await cancelRunning("slow_square");
  });

  it("bounds a stream's re-attaches too", { timeout: 10_000 }, async () => {
    // After one reset the proxy refuses every connection: without the deadline the
    // stream would try 10 times, waiting 1, 2, 4, then 5 s between tries (42 s).
    const proxy = new ResettingProxy(server.host, server.port, { cutAfterBytes: 16 * 1024, maxCuts: 1, refuseAfterCuts: true });
    const proxied = createOpHostClient(await proxy.start(), { reattachAttempts: 10, reattachBackoffMs: 1000 });
    try {
      const started = performance.now();
      await assert.rejects(drain(proxied.execute("count_up", { n: 2000n }, { timeoutMs: 1500 })), (error: unknown) => {
        assert.ok(!(error instanceof StreamBrokenError));
        assert.ok(error instanceof OpHostRpcError);
        assert.equal(error.code, "DEADLINE_EXCEEDED");
        return true;
      });
      assert.ok(proxy.cuts === 1 && proxy.refused >= 1);
      assert.ok(performance.now() - started < 4000);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it("must be a positive number of milliseconds gRPC can carry, or null", async () => {
    for (const timeoutMs of [0, -1, Number.NaN, 1e9]) {
      await assert.rejects(client.getOp("add", { timeoutMs }), RangeError);
      assert.throws(() => client.execute("add", {}, { timeoutMs }), RangeError);
      assert.throws(() => client.attach("x", 0n, { timeoutMs }), RangeError);
    }
    assert.throws(() => createOpHostClient(server.address, { timeoutMs: 0 }), RangeError);
  });
});

describe("signal", () => {
  it("stops call() of a slow op promptly, rejecting with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("the user gave up");
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();
    await assert.rejects(client.call("slow_square", { x: 3, delay: 5 }, { signal: controller.signal }), (error) => error === reason);
    assert.ok(performance.now() - started < 1000);
    await cancelRunning("slow_square");
  });

  it("stops a unary call with the signal's reason, before anything is sent when already aborted", async () => {
    const reason = new Error("not now");
    sent.length = 0;
    await assert.rejects(client.listOps({ signal: AbortSignal.abort(reason) }), (error) => error === reason);
    await assert.rejects(client.getExecution("x", { signal: AbortSignal.abort(reason) }), (error) => error === reason);
    assert.deepEqual(sent, []);
  });
});
