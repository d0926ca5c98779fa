/** Closing a client: the promise of close(), `await using`, and what a closed client refuses. */

import assert from "node:assert/strict";
import * as diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { ensureAsyncDispose } from "../src/async-dispose.js";
import { ClientClosedError, createOpHostClient, type OpHostClient } from "../src/index.js";
import { startServer, type TestServer } from "./server.js";

let server: TestServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server.stop();
});

/** Run `work`, returning the TCP sockets it opened to the test server (seen through Node's `net.client.socket` channel). */
async function socketsOpenedBy(work: () => Promise<void>): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const record = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket;
    // The remote port is known once connected, and forgotten once closed.
    socket.once("connect", () => {
      if (socket.remotePort === server.port) {
        sockets.push(socket);
      }
    });
  };
  diagnostics.subscribe("net.client.socket", record);
  try {
    await work();
  } finally {
    diagnostics.unsubscribe("net.client.socket", record);
  }
  return sockets;
}

describe("close", () => {
  it("resolves once the HTTP/2 connection has closed", async () => {
    const own = createOpHostClient(server.address);
    const sockets = await socketsOpenedBy(async () => {
      await own.serverInfo();
    });
    assert.equal(sockets.length, 1);
    const socket = sockets[0] as Socket;
    assert.equal(socket.closed, false);
    const closing = own.close();
    assert.equal(own.closed, true); // at once, before the connection is gone
    await closing;
    assert.equal(socket.closed, true);
    assert.equal(own.close(), closing, "a second close() returns the same promise");
  });

  it("resolves at once for a client that never connected", async () => {
    await createOpHostClient(server.address).close();
  });

  it("ends an open stream with ClientClosedError", async () => {
    const own = createOpHostClient(server.address);
    const execution = own.execute("long_running", { steps: 300n }, { config: { step_seconds: 0.02 } });
    const id = await execution.accepted();
    const reading = (async () => {
      for await (const event of execution) void event;
    })();
    const closed = assert.rejects(reading, ClientClosedError);
    await own.close();
    await closed;
    await using other = createOpHostClient(server.address);
    await other.cancel(id);
  });

  it("makes every later call reject with ClientClosedError", async () => {
    const closed = createOpHostClient(server.address);
    assert.deepEqual(await closed.call("add", { a: 1n, b: 1n }), { result: 2n });
    const id = (await closed.listExecutions())[0]?.id ?? assert.fail("no execution");
    await closed.close();
    await assert.rejects(closed.serverInfo(), ClientClosedError);
    await assert.rejects(closed.listOps(), ClientClosedError);
    await assert.rejects(closed.getOp("add"), ClientClosedError);
    await assert.rejects(closed.call("add", { a: 1n, b: 1n }), ClientClosedError);
    assert.throws(() => closed.execute("add", { a: 1n, b: 1n }), ClientClosedError);
    assert.throws(() => closed.attach(id), ClientClosedError);
    await assert.rejects(closed.cancel(id), ClientClosedError);
    await assert.rejects(closed.getExecution(id), ClientClosedError);
    await assert.rejects(closed.listExecutions(), ClientClosedError);
  });
});

describe("await using", () => {
  it("closes the client, and its connection, when the block ends", async () => {
    let used: OpHostClient | undefined;
    const sockets = await socketsOpenedBy(async () => {
      await using client = createOpHostClient(server.address);
      used = client;
      assert.deepEqual(await client.call("add", { a: 2n, b: 3n }), { result: 5n });
    });
    assert.equal(used?.closed, true);
    assert.equal(sockets.length, 1);
    assert.equal(sockets[0]?.closed, true);
    await assert.rejects(used.listOps(), ClientClosedError);
  });

  it("calls close() through Symbol.asyncDispose", async () => {
    const own = createOpHostClient(server.address);
    await own.serverInfo();
    const disposing = own[Symbol.asyncDispose]();
    assert.equal(own.closed, true);
    assert.equal(disposing, own.close());
    await disposing;
  });

  it("has a Symbol.asyncDispose even where the runtime lacks one", () => {
    assert.equal(typeof Symbol.asyncDispose, "symbol");
    const bare: { asyncDispose?: symbol } = {};
    assert.equal(ensureAsyncDispose(bare), Symbol.for("Symbol.asyncDispose"));
    assert.equal(bare.asyncDispose, Symbol.for("Symbol.asyncDispose"));
    const own = Symbol("another polyfill's");
    assert.equal(ensureAsyncDispose({ asyncDispose: own }), own);
  });
});
