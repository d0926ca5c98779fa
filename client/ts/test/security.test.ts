/**
 * TLS, client certificates and tokens, against a real `ophost serve` with mTLS and a
 * token file. The certificates are made for the run by trustme (`python -m tests.pki`).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import {
  type ClientOptions,
  createOpHostClient,
  type ExecutionFinishedEvent,
  OpFailedError,
  type OpHostClient,
  OpHostRpcError,
  type TlsOptions,
} from "../src/index.js";
import { REPO_ROOT, startServer, type TestServer } from "./server.js";

// alice may do everything with every op; bob may list, run and read `add` only.
const ALICE = "alice-0123456789abcdef0123456789abcdef";
const BOB = "bob-fedcba9876543210fedcba9876543210";

interface Pki {
  readonly ca: string;
  readonly server_cert: string;
  readonly server_key: string;
  readonly client_cert: string;
  readonly client_key: string;
}

let folder: string;
let pki: Pki;
let server: TestServer;
const opened: OpHostClient[] = [];

function tokenHash(token: string): string {
  return `sha256:${createHash("sha256").update(token).digest("hex")}`;
}

/** The TLS options of a client that trusts the test CA and presents the test client certificate. */
function mtls(): TlsOptions {
  return { ca: readFileSync(pki.ca), cert: readFileSync(pki.client_cert), key: readFileSync(pki.client_key) };
}

/** A client of the secure server (closed at the end), with mTLS unless `options` says otherwise. */
function client(options: ClientOptions = {}): OpHostClient {
  const made = createOpHostClient(server.address, { tls: mtls(), ...options });
  opened.push(made);
  return made;
}

before(async () => {
  folder = mkdtempSync(join(tmpdir(), "ophost-ts-tls-"));
  const printed = execFileSync(`${REPO_ROOT}.venv/bin/python`, ["-m", "tests.pki", folder], { cwd: REPO_ROOT, encoding: "utf8" });
  pki = JSON.parse(printed) as Pki;
  const tokens = join(folder, "tokens.toml");
  writeFileSync(
    tokens,
    [
      "[identities.alice]",
      `token_hash = "${tokenHash(ALICE)}"`,
      'ops = ["*"]',
      'actions = ["list", "run", "read", "cancel"]',
      "",
      "[identities.bob]",
      `token_hash = "${tokenHash(BOB)}"`,
      'ops = ["add"]',
      'actions = ["list", "run", "read"]',
      "",
    ].join("\n"),
  );
  server = await startServer("examples/ops.py", 30_000, [
    ...["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--tls-client-ca", pki.ca],
    ...["--token-file", tokens, "--withhold-errors", "--executor", "thread"],
  ]);
});

after(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await server?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** Asserts that `promise` rejects with an `OpHostRpcError` of `code` and `reason`; returns it. */
async function rpcError(promise: Promise<unknown>, code: string, reason: string): Promise<OpHostRpcError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof OpHostRpcError, `${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.reason, reason, caught.message);
  if (reason !== "") {
    assert.equal(caught.domain, "ophost");
  }
  return caught;
}

async function opNames(c: OpHostClient, options: Parameters<OpHostClient["listOps"]>[0] = {}): Promise<string[]> {
  return (await c.listOps(options)).map((op) => op.name);
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const event of stream) void event;
}

describe("mTLS with a token", () => {
  it("lists and runs ops, streams and attaches", async () => {
    const alice = client({ token: ALICE });
    const names = await opNames(alice);
    assert.ok(names.includes("add") && names.includes("summarize"), names.join());
    assert.deepEqual(await alice.call("add", { a: 2n, b: 3n }), { result: 5n });
    const execution = alice.execute("count_up", { n: 3n });
    await drain(execution);
    const id = execution.executionId ?? assert.fail("no execution id");
    let finished = false;
    for await (const event of alice.attach(id)) {
      finished ||= event.kind === "executionFinished";
    }
    assert.ok(finished, "the attached stream ended without the terminal event");
  });

  it("takes the certificates as strings too", async () => {
    const tls = {
      ca: readFileSync(pki.ca, "utf8"),
      cert: readFileSync(pki.client_cert, "utf8"),
      key: readFileSync(pki.client_key, "utf8"),
    };
    assert.deepEqual(await opNames(client({ tls, token: BOB })), ["add"]);
  });
});

describe("refusals", () => {
  it("no token is UNAUTHENTICATED, for unary calls and streams", async () => {
    const anonymous = client();
    await rpcError(anonymous.listOps(), "UNAUTHENTICATED", "UNAUTHENTICATED");
    await rpcError(anonymous.call("add", { a: 1n, b: 1n }), "UNAUTHENTICATED", "UNAUTHENTICATED");
  });

  it("a wrong token is UNAUTHENTICATED, and a stream refused so does not re-attach", async () => {
    const wrong = client({ token: "not-a-known-token", reattachAttempts: 3 });
    await rpcError(wrong.getOp("add"), "UNAUTHENTICATED", "UNAUTHENTICATED");
    const started = performance.now();
    await rpcError(drain(wrong.attach("no-such-execution")), "UNAUTHENTICATED", "UNAUTHENTICATED");
    assert.ok(performance.now() - started < 150, "the refused stream waited to re-attach");
  });

  it("an op outside the allow-list is PERMISSION_DENIED with the identity, the action and the op", async () => {
    const bob = client({ token: BOB });
    const error = await rpcError(bob.call("summarize", { values: [1.5] }), "PERMISSION_DENIED", "PERMISSION_DENIED");
    assert.deepEqual(error.metadata, { identity: "bob", action: "run", op: "summarize" });
  });

  it("another identity's execution is PERMISSION_DENIED", async () => {
    const alice = client({ token: ALICE });
    const execution = alice.execute("add", { a: 1n, b: 2n });
    await drain(execution);
    const id = execution.executionId ?? assert.fail("no execution id");
    const error = await rpcError(alice.getExecution(id, { token: BOB }), "PERMISSION_DENIED", "PERMISSION_DENIED");
    assert.deepEqual(error.metadata, { identity: "bob", action: "read", execution_id: id });
    await rpcError(drain(alice.attach(id, 0n, { token: BOB })), "PERMISSION_DENIED", "PERMISSION_DENIED");
    assert.equal((await alice.getExecution(id)).id, id); // its owner reads it
  });

  it("without a client certificate, or with the system's CAs, the connection fails", async () => {
    const noCert = client({ tls: { ca: readFileSync(pki.ca) }, token: ALICE, timeoutMs: 5000 });
    await rpcError(noCert.listOps(), "UNAVAILABLE", "");
    const systemRoots = client({
      tls: { cert: readFileSync(pki.client_cert), key: readFileSync(pki.client_key) },
      token: ALICE,
      timeoutMs: 5000,
    });
    const error = await rpcError(systemRoots.listOps(), "UNAVAILABLE", "");
    assert.match(error.message, /certificate/i);
  });
});

describe("the token of a call", () => {
  /** The authorization headers the calls of a client sent, as its last interceptor saw them. */
  const seen: (string | null)[] = [];
  const recorder: Interceptor = (next) => async (request) => {
    seen.push(request.header.get("authorization"));
    return next(request);
  };

  it("replaces the client's, as the token option or an authorization header", async () => {
    const alice = client({ token: ALICE, interceptors: [recorder] });
    seen.length = 0;
    assert.deepEqual(await opNames(alice, { token: BOB }), ["add"]);
    assert.deepEqual(await opNames(alice, { headers: { authorization: `Bearer ${BOB}` } }), ["add"]);
    const both = await opNames(alice, { headers: { authorization: `Bearer ${BOB}` }, token: ALICE });
    assert.ok(both.includes("summarize"), "the token option did not win over the header");
    assert.ok((await opNames(alice)).includes("summarize"));
    // One header each time (Headers would join two values with a comma).
    assert.deepEqual(seen, [`Bearer ${BOB}`, `Bearer ${BOB}`, `Bearer ${ALICE}`, `Bearer ${ALICE}`]);
  });

  it("goes with every RPC of a stream, re-attach and server-info look-up included", async () => {
    const anonymous = client({ interceptors: [recorder] });
    seen.length = 0;
    assert.deepEqual(await anonymous.call("add", { a: 40n, b: 2n }, { token: BOB }), { result: 42n });
    assert.deepEqual(seen, [`Bearer ${BOB}`, `Bearer ${BOB}`]); // GetServerInfo, Execute
  });

  it("that is not printable ASCII rejects the call before anything is sent", async () => {
    const alice = client({ token: ALICE, interceptors: [recorder] });
    seen.length = 0;
    await assert.rejects(alice.listOps({ token: "two words" }), TypeError);
    await assert.rejects(drain(alice.execute("add", { a: 1n, b: 1n }, { token: "" })), TypeError);
    assert.deepEqual(seen, []);
  });
});

describe("options", () => {
  it("refuses a bad token or TLS data when the client is made", () => {
    const make = (options: ClientOptions) => () => createOpHostClient("127.0.0.1:1", options);
    assert.throws(make({ token: "" }), /token option must be a non-empty string/);
    assert.throws(make({ token: "a\nb" }), /printable ASCII/);
    assert.throws(make({ tls: { ca: pki.ca } }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /tls\.ca is not PEM data/);
      assert.ok(error.message.includes(pki.ca), "the message shows the value given");
      return true;
    });
    assert.throws(make({ tls: { cert: readFileSync(pki.client_cert) } }), /tls\.cert and tls\.key go together/);
    assert.throws(make({ tls: { cert: readFileSync(pki.client_cert), key: "key.pem" } }), /tls\.key is not PEM/);
  });
});

describe("withheld errors", () => {
  it("show their error id", async () => {
    const alice = client({ token: ALICE });
    let caught: unknown;
    await assert.rejects(alice.call("summarize", { values: [] }), (error: unknown) => {
      caught = error;
      return true;
    });
    assert.ok(caught instanceof OpFailedError, String(caught));
    const errorId = caught.error?.errorId ?? assert.fail("no error id");
    assert.match(errorId, /^[0-9a-f]+$/);
    assert.deepEqual(caught.error?.stack, []);
    assert.ok(caught.message.includes(errorId));
  });

  it("an error id the message does not name is added to it", () => {
    const error = { typeName: "builtins.ValueError", message: "withheld", stack: [], cause: undefined, context: undefined, errorId: "abc123" };
    const finished = { kind: "executionFinished", opName: "op", error } as unknown as ExecutionFinishedEvent;
    const failed = new OpFailedError("x1", undefined, finished);
    assert.equal(failed.message, 'execution x1 of op "op" failed: builtins.ValueError: withheld (error id abc123)');
  });
});
