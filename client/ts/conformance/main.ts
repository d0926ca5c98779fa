/**
 * The TypeScript client's conformance program (the contract is in
 * tests/conformance/README.md).
 *
 * Reads the cases as one JSON document on stdin, runs each with the public API of
 * `@ophost/client`, and writes one JSON line of normalised results per case to
 * stdout. Diagnostics go to stderr.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { text } from "node:stream/consumers";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  type CallOptions,
  type ClientOptions,
  ClientClosedError,
  type ErrorChainLink,
  ExecutionCanceledError,
  type Execution,
  type ExecutionEvent,
  type MetadataEntry,
  OpFailedError,
  type OpError,
  createOpHostClient,
  type OpHostClient,
  OpHostClientError,
  OpHostRpcError,
  type OpSignature,
  PySet,
  Tuple,
  ValueConversionError,
} from "../src/index.js";

/** JSON values; a `bigint` (an event sequence) is written as a JSON integer, every digit kept. */
type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const BIG_BYTES = 4096;

// -- typed values ------------------------------------------------------------------------

function single(tv: Json): [string, Json] {
  if (tv === null || typeof tv !== "object" || Array.isArray(tv)) {
    throw new TypeError(`not a typed value: ${JSON.stringify(tv)}`);
  }
  const entries = Object.entries(tv);
  const [entry] = entries;
  if (entry === undefined || entries.length !== 1) {
    throw new TypeError(`a typed value has exactly one key: ${JSON.stringify(tv)}`);
  }
  return entry;
}

function list(body: Json): Json[] {
  if (!Array.isArray(body)) {
    throw new TypeError(`expected a JSON array, got ${JSON.stringify(body)}`);
  }
  return body;
}

/** A case's typed value as the JS value the client takes. */
function decodeTv(tv: Json): unknown {
  const [tag, body] = single(tv);
  switch (tag) {
    case "null":
      return null;
    case "bool":
    case "string":
      return body;
    case "int":
      return BigInt(String(body));
    case "float":
      return parseFloatText(String(body));
    case "bytes":
      return new Uint8Array(Buffer.from(String(body), "base64"));
    case "bytes_pattern":
      return pattern(Number(body));
    case "list":
      return list(body).map(decodeTv);
    case "tuple":
      return new Tuple(list(body).map(decodeTv));
    case "set":
      return new PySet(list(body).map(decodeTv));
    case "map":
      return new Map(list(body).map((pair) => {
        const [key, value] = list(pair);
        return [decodeTv(key ?? null), decodeTv(value ?? null)];
      }));
    default:
      throw new TypeError(`unknown typed value tag ${JSON.stringify(tag)}`);
  }
}

function parseFloatText(textValue: string): number {
  switch (textValue) {
    case "NaN":
      return Number.NaN;
    case "Infinity":
    case "inf":
      return Number.POSITIVE_INFINITY;
    case "-Infinity":
    case "-inf":
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(textValue);
  }
}

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    bytes[i] = i % 251;
  }
  return bytes;
}

/** A value the client returned, as a typed value. */
function encodeTv(value: unknown): Json {
  if (value === null || value === undefined) {
    return { null: null };
  }
  switch (typeof value) {
    case "boolean":
      return { bool: value };
    case "bigint":
      return { int: value.toString() };
    case "number":
      return { float: Object.is(value, -0) ? "-0.0" : String(value) };
    case "string":
      return { string: value };
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    if (value.length > BIG_BYTES) {
      return { bytes_sha256: createHash("sha256").update(value).digest("hex"), size: value.length };
    }
    return { bytes: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) {
    return { list: value.map(encodeTv) };
  }
  if (value instanceof Tuple) {
    return { tuple: value.items.map(encodeTv) };
  }
  if (value instanceof PySet) {
    return { set: value.items.map(encodeTv) };
  }
  if (value instanceof Map) {
    return { map: [...value.entries()].map(([key, item]): Json => [encodeTv(key), encodeTv(item)]) };
  }
  throw new TypeError(`no typed value for ${Object.prototype.toString.call(value)}`);
}

function decodeInputs(inputs: Json | undefined): Record<string, unknown> {
  const decoded: Record<string, unknown> = {};
  if (inputs !== undefined && inputs !== null && typeof inputs === "object" && !Array.isArray(inputs)) {
    for (const [name, tv] of Object.entries(inputs)) {
      decoded[name] = decodeTv(tv);
    }
  }
  return decoded;
}

function encodeOutputs(outputs: Record<string, unknown>): JsonObject {
  return Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, encodeTv(value)]));
}

// -- events ------------------------------------------------------------------------------

function chainOf(error: OpError | undefined): Json {
  if (error === undefined) {
    return null;
  }
  const links: Json[] = [];
  for (let current: OpError | undefined = error; current !== undefined; current = current.cause ?? current.context) {
    links.push({ type: current.typeName, message: current.message });
  }
  return links;
}

function linksOf(chain: readonly ErrorChainLink[]): Json {
  return chain.map((link) => ({ type: link.typeName, message: link.message }));
}

function metadataOf(entries: readonly MetadataEntry[]): Json {
  return entries.map((entry): Json => [entry.label, entry.value.kind]);
}

function normaliseEvent(event: ExecutionEvent): JsonObject {
  const base = { seq: event.sequence, attempt: event.attempt };
  switch (event.kind) {
    case "executionStarted":
      return { ...base, kind: "execution_started" };
    case "stepStarted":
      return { ...base, kind: "step_started" };
    case "stepRestarted":
      return { ...base, kind: "step_restarted" };
    case "stepSuccess":
      return { ...base, kind: "step_success" };
    case "inputChecked":
      return { ...base, kind: "input_checked", input: event.inputName, success: event.typeCheck?.success ?? null };
    case "output":
      return {
        ...base,
        kind: "output",
        name: event.outputName,
        value: encodeTv(event.value),
        type_check: event.typeCheck?.success ?? null,
      };
    case "assetMaterialization":
      return {
        ...base,
        kind: "asset_materialization",
        asset_key: [...event.assetKey],
        description: event.description ?? null,
        partition: event.partition ?? null,
        metadata: metadataOf(event.metadata),
      };
    case "assetObservation":
      return {
        ...base,
        kind: "asset_observation",
        asset_key: [...event.assetKey],
        description: event.description ?? null,
        partition: event.partition ?? null,
        metadata: metadataOf(event.metadata),
      };
    case "expectationResult":
      return {
        ...base,
        kind: "expectation_result",
        success: event.success,
        label: event.label,
        description: event.description ?? null,
        metadata: metadataOf(event.metadata),
      };
    case "log":
      return { ...base, kind: "log", level: event.level, message: event.message };
    case "retryScheduled":
      return {
        ...base,
        kind: "retry_scheduled",
        failed_attempt: event.failedAttempt,
        next_attempt: event.nextAttempt,
        delay_seconds: event.delaySeconds,
        error: chainOf(event.error),
      };
    case "stepFailure":
      return {
        ...base,
        kind: "step_failure",
        error: chainOf(event.error),
        source: event.errorSource,
        will_retry: event.willRetry,
        user_failure:
          event.userFailure === undefined
            ? null
            : { description: event.userFailure.description ?? null, metadata: metadataOf(event.userFailure.metadata) },
      };
    case "executionFinished":
      return {
        ...base,
        kind: "execution_finished",
        status: event.status,
        error: chainOf(event.error),
        cancel_requested: event.cancelRequested,
        cancel_outcome: event.cancelOutcome ?? null,
      };
  }
}

// -- actions -----------------------------------------------------------------------------

type Case = JsonObject;

function field(testCase: Case, name: string): string {
  const value = testCase[name];
  if (typeof value !== "string") {
    throw new TypeError(`case field ${name} must be a string, got ${JSON.stringify(value)}`);
  }
  return value;
}

type StartCallOptions = CallOptions & { config?: unknown; tags?: Record<string, string> };

function executeOptions(testCase: Case, call: CallOptions): StartCallOptions {
  const options: StartCallOptions = { ...call };
  if ("config" in testCase) {
    options.config = decodeTv(testCase["config"] ?? null);
  }
  const tags = testCase["tags"];
  if (tags !== undefined && tags !== null && typeof tags === "object" && !Array.isArray(tags)) {
    options.tags = Object.fromEntries(Object.entries(tags).map(([key, value]) => [key, String(value)]));
  }
  return options;
}

function rpcError(error: OpHostRpcError): Json {
  return { error: { code: error.code, reason: error.reason || null, fields: [...error.fields].sort(), metadata: { ...error.metadata } } };
}

async function collect(client: OpHostClient, stream: Execution, cancel: Json | undefined, call: CallOptions = {}): Promise<JsonObject> {
  const events: Json[] = [];
  let status: Json = null;
  const cancelSpec = cancel !== undefined && cancel !== null && typeof cancel === "object" && !Array.isArray(cancel) ? cancel : undefined;
  try {
    for await (const event of stream) {
      events.push(normaliseEvent(event));
      if (cancelSpec !== undefined && event.kind === "log" && event.message === cancelSpec["after_log"]) {
        if (cancelSpec["via"] === "rpc") {
          await client.cancel(event.executionId, "", call);
        } else {
          await stream.cancel();
        }
      }
      if (event.kind === "executionFinished") {
        status = event.status;
      }
    }
  } finally {
    stream.close();
  }
  return { events, outputs: encodeOutputs(stream.outputs), status };
}

function signatureOf(op: OpSignature): Json {
  const retry = op.retryPolicy;
  const configType = op.config?.type?.kind;
  return {
    name: op.name,
    description: op.description ?? null,
    inputs: op.inputs.map((input) => ({
      name: input.name,
      type: input.type?.displayName ?? "",
      required: input.required,
      default: input.hasDefault ? encodeTv(input.defaultValue) : null,
      description: input.description ?? null,
    })),
    outputs: op.outputs.map((output) => ({
      name: output.name,
      type: output.type?.displayName ?? "",
      required: output.required,
      description: output.description ?? null,
    })),
    tags: { ...op.tags },
    retry:
      retry === undefined
        ? null
        : {
            max_retries: retry.maxRetries,
            delay_seconds: retry.delaySeconds ?? null,
            backoff: retry.backoff ?? null,
            jitter: retry.jitter ?? null,
          },
    config:
      configType?.case === "shapeType" ? configType.value.fields.map((config): Json => [config.name, config.required]) : null,
  };
}

/** What the secure run adds (README.md, "The secure run"): PEM files and tokens. */
interface Security {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly token: string;
  readonly tokens: Readonly<Record<string, string>>;
}

/**
 * The browser door's transports (README.md, "The browser door run"): connect-web's, over
 * Node's `fetch`, to a target given as an `http://` URL.
 */
type DoorTransport = "connect" | "connect-binary" | "grpc-web";

function doorTransport(kind: DoorTransport, baseUrl: string): Transport {
  const options = { baseUrl, fetch: globalThis.fetch };
  if (kind === "grpc-web") {
    return createGrpcWebTransport(options);
  }
  // Connect with JSON bodies (connect-web's default), or binary protobuf.
  return createConnectTransport({ ...options, useBinaryFormat: kind === "connect-binary" });
}

class Program {
  private readonly clients = new Map<string, OpHostClient>();

  constructor(
    private readonly targets: Readonly<Record<string, string>>,
    private readonly security: Security | undefined,
    private readonly transport: DoorTransport | undefined,
  ) {}

  /** A client of `target`; in the secure run with the TLS files and, `withToken`, the token. */
  private newClient(target: string, withToken = true): OpHostClient {
    if (this.transport !== undefined) {
      // The browser door: connect-web's transport; executions start with StartExecution.
      return createOpHostClient(this.address(target), { transport: doorTransport(this.transport, this.address(target)) });
    }
    const options: { -readonly [K in keyof ClientOptions]: ClientOptions[K] } = {};
    const security = this.security;
    if (security !== undefined) {
      options.tls = { ca: readFileSync(security.ca), cert: readFileSync(security.cert), key: readFileSync(security.key) };
      if (withToken) {
        options.token = security.token;
      }
    }
    return createOpHostClient(this.address(target), options);
  }

  /** The call options of a case: its signal, and the token of the identity it names, if any. */
  private callOptions(identity: Json | undefined, signal: AbortSignal): CallOptions {
    if (identity === undefined || identity === null) {
      return { signal };
    }
    const token = this.security?.tokens[String(identity)];
    if (token === undefined) {
      throw new TypeError(`no token for the identity ${JSON.stringify(identity)} in this run`);
    }
    return { signal, token };
  }

  private address(target: string): string {
    const address = this.targets[target];
    if (address === undefined) {
      throw new TypeError(`unknown target ${JSON.stringify(target)}`);
    }
    return address;
  }

  private client(target: string): OpHostClient {
    let client = this.clients.get(target);
    if (client === undefined) {
      client = this.newClient(target);
      this.clients.set(target, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
  }

  async run(testCase: Case, signal: AbortSignal): Promise<Json> {
    const target = typeof testCase["target"] === "string" ? testCase["target"] : "main";
    const anonymous = testCase["without_token"] === true;
    const client = anonymous ? this.newClient(target, false) : this.client(target);
    try {
      return await this.dispatch(client, target, testCase, this.callOptions(testCase["token"], signal));
    } catch (error) {
      if (error instanceof OpHostRpcError) {
        return rpcError(error);
      }
      if (error instanceof ValueConversionError) {
        return { client_error: { kind: "invalid_value", message: error.message } };
      }
      if (error instanceof ClientClosedError) {
        return { client_error: { kind: "closed", message: error.message } };
      }
      if (error instanceof OpHostClientError) {
        return { client_error: { kind: "other", message: error.message } };
      }
      throw error;
    } finally {
      if (anonymous) {
        await client.close();
      }
    }
  }

  private async dispatch(client: OpHostClient, target: string, testCase: Case, call: CallOptions): Promise<Json> {
    const action = field(testCase, "action");
    switch (action) {
      case "list_ops":
        return { ops: (await client.listOps(call)).map((op) => op.name).sort() };
      case "get_op":
        return { op: signatureOf(await client.getOp(field(testCase, "op"), call)) };
      case "call":
        try {
          const outputs = await client.call(field(testCase, "op"), decodeInputs(testCase["inputs"]), executeOptions(testCase, call));
          return { outputs: encodeOutputs(outputs) };
        } catch (error) {
          if (error instanceof OpFailedError) {
            return { op_failed: linksOf(error.chain) };
          }
          if (error instanceof ExecutionCanceledError) {
            return { canceled: true };
          }
          throw error;
        }
      case "execute": {
        const stream = client.execute(field(testCase, "op"), decodeInputs(testCase["inputs"]), executeOptions(testCase, call));
        return await collect(client, stream, testCase["cancel"], call);
      }
      case "attach": {
        let executionId: string;
        if ("op" in testCase) {
          const first = client.execute(field(testCase, "op"), decodeInputs(testCase["inputs"]), call);
          await collect(client, first, undefined, call);
          executionId = first.executionId ?? "";
        } else {
          executionId = field(testCase, "execution_id");
        }
        const after = testCase["after_sequence"];
        const afterSequence = typeof after === "number" || typeof after === "string" ? BigInt(after) : 0n;
        // The attach goes as another identity when the case says so.
        const attachCall = "attach_token" in testCase ? this.callOptions(testCase["attach_token"], call.signal as AbortSignal) : call;
        const stream = client.attach(executionId, afterSequence, attachCall);
        return await collect(client, stream, undefined, attachCall);
      }
      case "cancel":
        await client.cancel(field(testCase, "execution_id"), "", call);
        return { canceled: true };
      case "request_id":
        return await this.requestId(client, testCase, call);
      case "client_error":
        return await this.clientError(client, target, testCase, call);
      default:
        return { crash: `unknown action ${JSON.stringify(action)}` };
    }
  }

  private async requestId(client: OpHostClient, testCase: Case, call: CallOptions): Promise<Json> {
    const op = field(testCase, "op");
    const requestId = field(testCase, "request_id");
    const first = client.execute(op, decodeInputs(testCase["first"]), { ...call, requestId });
    const result = await collect(client, first, undefined, call);
    const outcome: JsonObject = { first: result["status"] ?? null };
    const second = client.execute(op, decodeInputs(testCase["second"]), { ...call, requestId });
    try {
      await collect(client, second, undefined, call);
    } catch (error) {
      if (error instanceof OpHostRpcError) {
        outcome["second"] = rpcError(error);
        return outcome;
      }
      throw error;
    }
    outcome["second_same_execution"] = second.executionId === first.executionId;
    return outcome;
  }

  private async clientError(client: OpHostClient, target: string, testCase: Case, call: CallOptions): Promise<Json> {
    const kind = field(testCase, "kind");
    if (kind === "unconvertible_input") {
      const items: unknown[] = [1n, 2n, 3n];
      items[Number(testCase["index"])] = () => "a function";
      await client.call(field(testCase, "op"), { [field(testCase, "input")]: items }, call);
      return { crash: "the client accepted an unconvertible value" };
    }
    if (kind === "closed") {
      const fresh = this.newClient(target);
      await fresh.close();
      await fresh.call(field(testCase, "op"), {}, call);
      return { crash: "a closed client made a call" };
    }
    void client;
    return { crash: `unknown client_error kind ${JSON.stringify(kind)}` };
  }
}

/** The JSON text of `value`. Unlike `JSON.stringify`, it writes a bigint as an exact JSON integer. */
function jsonText(value: Json): string {
  if (typeof value === "bigint") {
    return value.toString();
  }
  if (Array.isArray(value)) {
    return `[${value.map(jsonText).join(",")}]`;
  }
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${members.map(([key, item]) => `${JSON.stringify(key)}:${jsonText(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function withTimeout(work: (signal: AbortSignal) => Promise<Json>, seconds: number): Promise<Json> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Json>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error("the case timed out"));
      resolve({ timeout: true });
    }, seconds * 1000);
  });
  const run = work(controller.signal).catch((error: unknown): Json => {
    if (controller.signal.aborted) {
      return { timeout: true };
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    const name = error instanceof Error ? error.name : typeof error;
    return { crash: `${name}: ${error instanceof Error ? error.message : String(error)}` };
  });
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const document = JSON.parse(await text(process.stdin)) as {
    targets: Record<string, string>;
    cases: Case[];
    security?: Security;
    transport?: DoorTransport;
  };
  const program = new Program(document.targets, document.security, document.transport);
  try {
    for (const testCase of document.cases) {
      const seconds = typeof testCase["timeout_seconds"] === "number" ? testCase["timeout_seconds"] : 60;
      const result = await withTimeout((signal) => program.run(testCase, signal), seconds);
      process.stdout.write(`${jsonText({ id: testCase["id"] ?? null, result })}\n`);
    }
  } finally {
    await program.close();
  }
  return 0;
}

process.exitCode = await main();
