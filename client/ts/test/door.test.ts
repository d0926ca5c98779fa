/**
 * The client over a handed-in transport: connect-web's Connect and gRPC-Web transports,
 * over Node's `fetch`, against the browser door of a real `ophost serve --http-port 0`.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createOpHostClient, type OpHostClient, OpHostRpcError } from "../src/index.js";
import { REPO_ROOT } from "./server.js";

let child: ChildProcess;
let doorUrl: string;
const opened: OpHostClient[] = [];

before(async () => {
  const args = ["-m", "ophost", "serve", "-f", "examples/ops.py", "--port", "0", "--http-port", "0", "--store", "memory", "--executor", "thread"];
  child = spawn(`${REPO_ROOT}.venv/bin/python`, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /web console at (http:\/\/\S+)\/$/.exec(line);
    if (match?.[1] !== undefined) {
      doorUrl = match[1];
      return;
    }
  }
  throw new Error("ophost serve exited before opening its browser door");
});

after(async () => {
  await Promise.all(opened.map((client) => client.close()));
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
});

for (const [name, make] of [
  ["Connect (JSON)", () => createConnectTransport({ baseUrl: doorUrl, fetch: globalThis.fetch })],
  ["Connect (binary)", () => createConnectTransport({ baseUrl: doorUrl, fetch: globalThis.fetch, useBinaryFormat: true })],
  ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: doorUrl, fetch: globalThis.fetch })],
] as const) {
  describe(`the browser door over ${name}`, () => {
    function client(): OpHostClient {
      const made = createOpHostClient(doorUrl, { transport: make() });
      opened.push(made);
      return made;
    }

    it("lists ops and calls one, starting it with StartExecution", async () => {
      const host = client();
      const names = (await host.listOps()).map((op) => op.name);
      assert.ok(names.includes("add"));
      assert.deepEqual(await host.call("add", { a: 2n, b: 3n }), { result: 5n });
    });

    it("streams an execution's events to the end, and reads it back", async () => {
      const host = client();
      const execution = host.execute("count_up", { n: 3n });
      const kinds = [];
      for await (const event of execution) {
        kinds.push(event.kind);
      }
      assert.equal(kinds[0], "executionStarted");
      assert.equal(kinds.at(-1), "executionFinished");
      assert.equal(execution.finished?.status, "SUCCEEDED");
      const info = await host.getExecution(execution.executionId as string);
      assert.equal(info.state, "SUCCEEDED");
    });

    it("cancels a running execution from its stream", async () => {
      const host = client();
      const execution = host.execute("long_running", { steps: 3000n });
      for await (const event of execution) {
        if (event.kind === "stepStarted") {
          await execution.cancel();
        }
      }
      assert.equal(execution.finished?.status, "CANCELED");
    });

    it("reports a refusal as an OpHostRpcError with its reason", async () => {
      const host = client();
      await assert.rejects(host.getOp("nope"), (error: unknown) => {
        assert.ok(error instanceof OpHostRpcError);
        assert.equal(error.code, "NOT_FOUND");
        assert.equal(error.reason, "OP_NOT_FOUND");
        return true;
      });
    });
  });
}

describe("a handed-in transport", () => {
  it("owns the connection: the client refuses options that belong to it", () => {
    const transport = createConnectTransport({ baseUrl: "http://127.0.0.1:1" });
    assert.throws(() => createOpHostClient("http://127.0.0.1:1", { transport, token: "t" }), /give token to the transport/);
    assert.throws(() => createOpHostClient("127.0.0.1:1", { startWith: "Stream" as never }), /startWith must be/);
  });
});
