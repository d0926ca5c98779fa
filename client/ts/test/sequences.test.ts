/** Event sequences are uint64 on the wire: the client keeps them as exact bigints, both ways. */

import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { createOpHostClient, type OpHostClient, OpHostRpcError } from "../src/index.js";
import { startServer, type TestServer } from "./server.js";

let server: TestServer;
let client: OpHostClient;
let executionId: string;
let lastSequence: bigint;

before(async () => {
  server = await startServer();
  client = createOpHostClient(server.address);
  const execution = client.execute("add", { a: 1n, b: 2n });
  await execution.result();
  executionId = execution.executionId ?? assert.fail("no execution id");
  lastSequence = execution.lastSequence;
});

after(async () => {
  await client.close();
  await server.stop();
});

it("hands out sequences as bigints, the same in events, streams and execution info", async () => {
  const sequences: bigint[] = [];
  for await (const event of client.attach(executionId)) {
    sequences.push(event.sequence);
  }
  assert.ok(sequences.every((sequence) => typeof sequence === "bigint"));
  assert.equal(sequences.at(-1), lastSequence);
  assert.equal((await client.getExecution(executionId)).lastSequence, lastSequence);
});

for (const afterSequence of [2n ** 53n + 1n, 2n ** 64n - 1n]) {
  it(`sends afterSequence ${afterSequence} exactly (the server echoes it in its OUT_OF_RANGE error)`, async () => {
    const stream = client.attach(executionId, afterSequence);
    await assert.rejects(stream.next(), (error: unknown) => {
      assert.ok(error instanceof OpHostRpcError);
      assert.equal(error.code, "OUT_OF_RANGE");
      assert.equal(error.reason, "SEQUENCE_OUT_OF_RANGE");
      // 2^53 + 1 narrowed to a double would arrive as ...992.
      assert.equal(error.metadata["after_sequence"], afterSequence.toString());
      assert.equal(error.metadata["last_sequence"], lastSequence.toString());
      return true;
    });
  });
}

it("refuses a sequence no uint64 or safe integer can hold, before sending", () => {
  assert.throws(() => client.attach(executionId, 2n ** 64n), RangeError);
  assert.throws(() => client.attach(executionId, 2 ** 53), RangeError);
  assert.throws(() => client.attach(executionId, -1n), RangeError);
});
