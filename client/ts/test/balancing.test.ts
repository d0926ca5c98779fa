/**
 * One client, several servers: calls go to each in turn.
 *
 * Two independent servers stand in for the replicas of a host; each answers
 * `serverInfo` with its own `serverId`, which shows who served a call. Calls that stay
 * on one server (a whole `call`, one stream) work on either.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { lookUp, parseAddress } from "../src/addresses.js";
import { createOpHostClient, type OpHostClient } from "../src/index.js";
import { startServer, type TestServer } from "./server.js";

let servers: TestServer[];
let ids: string[];

before(async () => {
  servers = await Promise.all([startServer(), startServer()]);
  ids = [];
  for (const server of servers) {
    await using alone = createOpHostClient(server.address);
    ids.push((await alone.serverInfo()).serverId);
  }
});

after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

/** Who served each of `n` calls. */
async function servedBy(client: OpHostClient, n = 20): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = (await client.serverInfo()).serverId;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A local port where nothing listens: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as net.AddressInfo;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

describe("several addresses", () => {
  for (const form of ["array", "commas", "ipv4"] as const) {
    it(`spread the calls over every server (${form})`, async () => {
      const addresses = servers.map((server) => server.address);
      const address =
        form === "array" ? addresses : form === "commas" ? addresses.join(" , ") : `ipv4:${addresses.join(",")}`;
      await using client = createOpHostClient(address);
      const counts = await servedBy(client);
      // Both served some; the exact alternation is not promised.
      assert.deepEqual([...counts.keys()].sort(), [...ids].sort());
      assert.equal(client.address, form === "array" ? addresses.join(",") : address);
    });
  }

  it("run ops and streams through the balanced client", async () => {
    await using client = createOpHostClient(servers.map((server) => server.address));
    const results = await Promise.all([1n, 2n, 3n, 4n].map((a) => client.call("add", { a, b: 10n })));
    assert.deepEqual(results, [{ result: 11n }, { result: 12n }, { result: 13n }, { result: 14n }]);
    const kinds: string[] = [];
    for await (const event of client.execute("count_up", { n: 3n })) {
      kinds.push(event.kind);
    }
    assert.equal(kinds.at(-1), "executionFinished");
    // Each server ran some of the executions.
    const ran = await Promise.all(
      servers.map(async (server) => {
        await using alone = createOpHostClient(server.address);
        return (await alone.listExecutions({ opName: "add" })).length;
      }),
    );
    assert.equal(ran[0]! + ran[1]!, 4);
    assert.ok(ran[0]! > 0 && ran[1]! > 0, `the servers ran ${ran.join(" and ")} of the 4`);
  });

  it("pass over a server that cannot be connected to", async () => {
    const down = `127.0.0.1:${await closedPort()}`;
    await using client = createOpHostClient([down, servers[0]!.address]);
    const counts = await servedBy(client, 6);
    assert.deepEqual([...counts.entries()], [[ids[0], 6]]);
  });

  it("keep one address as it was", async () => {
    await using client = createOpHostClient(servers[1]!.address);
    assert.equal(client.address, servers[1]!.address);
    assert.deepEqual([...(await servedBy(client, 5)).entries()], [[ids[1], 5]]);
    assert.deepEqual(await client.call("add", { a: 1n, b: 2n }), { result: 3n });
  });
});

describe("dns:/// addresses", () => {
  it("reach every address of the name", async () => {
    // localhost may also be ::1, where nothing listens: that address is passed over.
    await using client = createOpHostClient(`dns:///localhost:${servers[0]!.port}`);
    assert.deepEqual([...(await servedBy(client, 5)).entries()], [[ids[0], 5]]);
    assert.deepEqual(await client.call("add", { a: 2n, b: 3n }), { result: 5n });
  });

  it("are looked up once, into one URL per address", async () => {
    const backends = parseAddress("dns:///ops.test:50051", true);
    assert.deepEqual(backends, { kind: "dns", host: "ops.test", port: 50051, secure: true });
    if (backends.kind !== "dns") throw new Error("unreachable");
    const found = [
      { address: "10.0.0.1", family: 4 },
      { address: "fd00::1", family: 6 },
      { address: "10.0.0.1", family: 4 },
    ];
    assert.deepEqual(await lookUp(backends, async () => found), ["https://10.0.0.1:50051", "https://[fd00::1]:50051"]);
    await assert.rejects(lookUp(backends, async () => []), /has no address/);
  });

  it("fail the call, as UNAVAILABLE, when the name cannot be looked up", async () => {
    await using client = createOpHostClient("dns:///no-such-host.invalid:50051", { timeoutMs: 5_000 });
    await assert.rejects(client.serverInfo(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "UNAVAILABLE");
      assert.match(error.message, /cannot look up no-such-host\.invalid/);
      return true;
    });
  });
});

describe("malformed addresses", () => {
  for (const address of [[], "127.0.0.1:1,", "127.0.0.1:1,nope", "dns:///no-port", "dns://8.8.8.8/ops:1", "ipv4:"]) {
    it(`are refused: ${JSON.stringify(address)}`, () => {
      assert.throws(() => createOpHostClient(address), TypeError);
    });
  }

  it("must share one path", () => {
    assert.throws(() => createOpHostClient(["http://a:1/x", "http://b:1/y"]), /same path/);
  });
});
