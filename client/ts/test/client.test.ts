/** The client against a real ophost server serving examples/ops.py. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ExecutionEvent,
  ExecutionCanceledError,
  OpFailedError,
  createOpHostClient,
  type OpHostClient,
  OpHostRpcError,
  StreamBrokenError,
  ValueConversionError,
} from "../src/index.js";
import { ResettingProxy } from "./proxy.js";
import { startServer, type TestServer } from "./server.js";

let server: TestServer;
let client: OpHostClient;

before(async () => {
  server = await startServer();
  client = createOpHostClient(server.address);
});

after(async () => {
  await client.close();
  await server.stop();
});

async function collect(events: AsyncIterable<ExecutionEvent>): Promise<ExecutionEvent[]> {
  const seen: ExecutionEvent[] = [];
  for await (const event of events) {
    seen.push(event);
  }
  return seen;
}

function assertGapFree(events: readonly ExecutionEvent[], from = 1n): void {
  assert.deepEqual(
    events.map((event) => event.sequence),
    events.map((_, index) => BigInt(index) + from),
  );
}

describe("ops and server", () => {
  it("lists the ops in registration order", async () => {
    const ops = await client.listOps();
    assert.deepEqual(ops.map((op) => op.name), [
      "add", "parse_csv", "summarize", "publish_scores", "flaky_fetch",
      "count_up", "slow_square", "long_running", "large_blob", "top_scores",
    ]);
    assert.equal(ops[0]?.description, "Add two integers.");
  });

  it("describes one op in full", async () => {
    const op = await client.getOp("long_running");
    assert.deepEqual(op.inputs.map((input) => [input.name, input.type?.displayName, input.required, input.defaultValue]), [
      ["steps", "Int", false, 300n],
    ]);
    assert.equal(op.outputs[0]?.description, "The number of steps completed");
    const retry = (await client.getOp("flaky_fetch")).retryPolicy;
    assert.deepEqual(retry, { maxRetries: 3, delaySeconds: 0.2, backoff: "EXPONENTIAL", jitter: undefined });
  });

  it("reports the server's limits", async () => {
    const info = await client.serverInfo();
    assert.equal(info.protocolVersion, "1");
    assert.ok(info.limits.chunkSizeBytes >= 64 * 1024);
    assert.ok(info.capabilities.has("chunked_upload"));
  });
});

describe("executions", () => {
  it("calls add and returns a bigint", async () => {
    assert.deepEqual(await client.call("add", { a: 2n, b: 3n }), { result: 5n });
  });

  it("streams the events of count_up in order", async () => {
    const execution = client.execute("count_up", { n: 3n });
    const events = await collect(execution);
    assert.deepEqual(events.map((event) => event.kind), [
      "executionStarted", "stepStarted", "inputChecked", "log", "log", "log", "output", "stepSuccess", "executionFinished",
    ]);
    assertGapFree(events);
    assert.deepEqual(
      events.flatMap((event) => (event.kind === "log" ? [event.message] : [])),
      ["step 1 of 3", "step 2 of 3", "step 3 of 3"],
    );
    const finished = events.at(-1);
    assert.ok(finished?.kind === "executionFinished" && finished.status === "SUCCEEDED");
    assert.equal(finished.executionId, execution.executionId);
    assert.deepEqual(execution.outputs, { result: 3n });
    assert.deepEqual(await execution.result(), { result: 3n });
    const info = await client.getExecution(finished.executionId);
    assert.equal(info.state, "SUCCEEDED");
    assert.equal(info.lastSequence, 9n);
  });

  it("types observations and materializations", async () => {
    const events = await collect(client.execute("publish_scores", { rows: [["ada", "91"], ["alan", "88"]] }));
    const observed = events.filter((event) => event.kind === "assetObservation");
    const materialized = events.filter((event) => event.kind === "assetMaterialization");
    assert.equal(observed.length, 1);
    assert.equal(materialized.length, 1);
    const [observation] = observed;
    assert.ok(observation?.kind === "assetObservation");
    assert.deepEqual(observation.assetKey, ["sources", "scores"]);
    assert.equal(observation.description, "The rows received");
    assert.equal(observation.partition, undefined);
    assert.deepEqual(observation.tags, {});
    assert.deepEqual(
      observation.metadata.map((entry) => [entry.label, entry.value]),
      [["rows", { kind: "int_value", value: 2n }]],
    );
    assert.ok(observation.sequence < (materialized[0]?.sequence ?? 0n));
  });

  it("shows retries and returns the final attempt's output", async () => {
    const events = await collect(client.execute("flaky_fetch", { url: "db" }));
    assert.deepEqual(
      events.filter((event) => event.kind === "retryScheduled").map((event) => [event.failedAttempt, event.nextAttempt]),
      [[0, 1], [1, 2]],
    );
    const output = events.find((event) => event.kind === "output");
    assert.ok(output?.kind === "output");
    assert.equal(output.value, "contents of db");
    assert.equal(output.attempt, 2);
  });

  it("turns an op failure into OpFailedError with its cause chain", async () => {
    const failed = client.call("large_blob", { size_mb: -1n });
    await assert.rejects(failed, (error: unknown) => {
      assert.ok(error instanceof OpFailedError);
      assert.equal(error.userFailure?.description, "size_mb must be 0 or more, got -1");
      assert.equal(error.finished.status, "FAILED");
      assert.equal(error.failure?.errorSource, "USER_CODE");
      assert.ok(error.chain.length >= 1);
      assert.match(error.message, /large_blob.*failed/);
      return true;
    });
  });

  it("cancels long_running through the stream", async () => {
    const execution = client.execute("long_running", { steps: 300n }, { config: { step_seconds: 0.02 } });
    const kinds: string[] = [];
    for await (const event of execution) {
      kinds.push(event.kind);
      if (event.kind === "log" && kinds.filter((kind) => kind === "log").length === 1) {
        await execution.cancel("enough");
      }
    }
    const finished = execution.finished;
    assert.equal(finished?.status, "CANCELED");
    assert.equal(finished?.cancelRequested, true);
    assert.equal(finished?.cancelOutcome, "COOPERATIVE");
    assert.ok(kinds.filter((kind) => kind === "log").length < 50);
    await assert.rejects(execution.result(), ExecutionCanceledError);
  });

  it("cancels by id and attaches to the execution", async () => {
    const execution = client.execute("long_running", { steps: 300n }, { config: { step_seconds: 0.02 } });
    const id = await execution.accepted();
    execution.close();
    const state = await client.cancel(id, "by id");
    assert.ok(["CANCEL_REQUESTED", "CANCELED"].includes(state.state));
    const attached = client.attach(id, 1n);
    const events = await collect(attached);
    assertGapFree(events, 2n);
    assert.equal(attached.finished?.status, "CANCELED");
    await assert.rejects(client.call("long_running", { steps: 1n }, { signal: AbortSignal.abort() }));
  });

  it("reassembles a chunked 16 MiB output", async () => {
    const { result } = await client.call("large_blob", { size_mb: 16n });
    assert.ok(result instanceof Uint8Array);
    assert.equal(result.length, 16 << 20);
    for (const index of [0, 255, 256, 1_000_003, (16 << 20) - 1]) {
      assert.equal(result[index], index % 256);
    }
  });

  it("uploads a large input in chunks", async () => {
    const info = await client.serverInfo();
    const count = 200_000;
    const values = Array.from({ length: count }, (_, index) => index);
    // Each double in a list takes 11 bytes on the wire: well over the inline threshold.
    assert.ok(count * 11 > info.limits.inlineThresholdBytes);
    const outputs = await client.call("summarize", { values });
    assert.equal(outputs["mean"], (count - 1) / 2);
  });
});

describe("re-attach", () => {
  it("hides a connection reset in the middle of a stream", async () => {
    const proxy = new ResettingProxy(server.host, server.port, { cutAfterBytes: 32 * 1024, cutAfterMs: 100, maxCuts: 1 });
    const proxied = createOpHostClient(await proxy.start(), { reattachBackoffMs: 20 });
    try {
      const execution = proxied.execute("count_up", { n: 20000n });
      const events = await collect(execution);
      assert.equal(proxy.cuts, 1);
      assert.ok(execution.reattachCount >= 1);
      assertGapFree(events);
      assert.equal(events.filter((event) => event.kind === "log").length, 20000);
      assert.deepEqual(execution.outputs, { result: 20000n });
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it("resumes before an output whose chunks were cut", async () => {
    const proxy = new ResettingProxy(server.host, server.port, { cutAfterBytes: 3 << 20, maxCuts: 1 });
    const proxied = createOpHostClient(await proxy.start(), { reattachBackoffMs: 20 });
    try {
      const execution = proxied.execute("large_blob", { size_mb: 8n });
      const outputs = await execution.result();
      assert.equal(proxy.cuts, 1);
      assert.equal(execution.reattachCount, 1);
      assert.equal((outputs["result"] as Uint8Array).length, 8 << 20);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it("gives up with StreamBrokenError after the allowed attempts", async () => {
    const proxy = new ResettingProxy(server.host, server.port, {
      cutAfterBytes: 16 * 1024,
      cutAfterMs: 100,
      maxCuts: 1,
      refuseAfterCuts: true,
    });
    const proxied = createOpHostClient(await proxy.start(), { reattachAttempts: 2, reattachBackoffMs: 10 });
    try {
      const execution = proxied.execute("count_up", { n: 20000n });
      const seen: ExecutionEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of execution) seen.push(event);
        })(),
        (error: unknown) => {
          assert.ok(error instanceof StreamBrokenError);
          assert.equal(error.executionId, execution.executionId);
          assert.equal(error.lastSequence, seen.at(-1)?.sequence ?? 0n);
          assert.equal(error.attempts, 2);
          return true;
        },
      );
      assert.ok(proxy.refused >= 2);
      assertGapFree(seen);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});

describe("typed errors", () => {
  it("surfaces an unknown op as NOT_FOUND / OP_NOT_FOUND", async () => {
    await assert.rejects(client.call("no_such_op"), (error: unknown) => {
      assert.ok(error instanceof OpHostRpcError);
      assert.equal(error.code, "NOT_FOUND");
      assert.equal(error.grpcCode, 5);
      assert.equal(error.reason, "OP_NOT_FOUND");
      assert.equal(error.domain, "ophost");
      return true;
    });
    await assert.rejects(client.getOp("no_such_op"), { code: "NOT_FOUND", reason: "OP_NOT_FOUND" });
    await assert.rejects(collect(client.attach("no-such-execution")), { code: "NOT_FOUND", reason: "EXECUTION_NOT_FOUND" });
  });

  it("names the bad input in field violations", async () => {
    await assert.rejects(client.call("add", { a: "two", b: 3n }), (error: unknown) => {
      assert.ok(error instanceof OpHostRpcError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.equal(error.reason, "INVALID_INPUT");
      assert.deepEqual(error.fields, ["inputs.a"]);
      return true;
    });
  });

  it("refuses an unconvertible value before sending, naming op, input and path", () => {
    assert.throws(
      () => client.execute("add", { a: [1n, 2n, () => 3n], b: 1n }),
      (error: unknown) =>
        error instanceof ValueConversionError && error.opName === "add" && error.input === "a" && error.path === "inputs.a[2]",
    );
  });
});
