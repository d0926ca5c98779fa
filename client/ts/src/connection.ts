/**
 * The HTTP/2 connections of a client and the gRPC transport over them.
 *
 * Connect's transport sends every request through one session manager (the
 * `sessionManager` option of `createGrpcTransport`). {@link Sessions} is that
 * manager. It holds one Connect `Http2SessionManager` per server, which opens the
 * server's session, keeps it alive with pings and replaces it when broken, and hands
 * each request to the next server in turn (round robin). A request goes to a server
 * before anything of it is sent, so when that server cannot be connected to, the
 * request goes to the next one instead, and the server is passed over for a while
 * (1 s, doubling with each failure in a row, at most 30 s; when every server is
 * passed over, each is tried anyway). A stream lives on the session it was opened
 * on; its re-attach after a break is a new request, which goes to the next server.
 *
 * Connect's `abort()` destroys a manager's sessions but says nothing of when they are
 * gone, so the manager also remembers every session a request went out on: closing
 * the client waits until each of them has closed.
 *
 * @module
 */

import * as http2 from "node:http2";
import { isIP } from "node:net";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions, Http2SessionManager } from "@connectrpc/connect-node";
import { type Backends, lookUp } from "./addresses.js";
import { tokenInterceptor } from "./credentials.js";
import { type ClientOptions, DEFAULTS } from "./options.js";

type SessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

/** How long a server that could not be connected to is passed over, in milliseconds: the first time, and at most. */
const FIRST_PASS_OVER_MS = 1_000;
const MAX_PASS_OVER_MS = 30_000;

/** One server: Connect's manager of its session, and whether connecting to it failed lately. */
class Server {
  readonly manager: Http2SessionManager;
  #failures = 0;
  #passOverUntil = 0;

  constructor(baseUrl: string, options: ClientOptions, nodeOptions: http2.SecureClientSessionOptions) {
    this.manager = new Http2SessionManager(
      baseUrl,
      {
        pingIntervalMs: options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
        pingTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
        pingIdleConnection: true,
      },
      nodeOptions,
    );
  }

  get passedOver(): boolean {
    return this.#passOverUntil > Date.now();
  }

  connected(): void {
    this.#failures = 0;
    this.#passOverUntil = 0;
  }

  failed(): void {
    this.#failures += 1;
    this.#passOverUntil = Date.now() + Math.min(FIRST_PASS_OVER_MS * 2 ** (this.#failures - 1), MAX_PASS_OVER_MS);
  }
}

/** Hands each request to the next server's session, and keeps the sessions used until these close. */
class Sessions implements SessionManager {
  readonly authority: string;
  readonly #backends: Backends;
  readonly #options: ClientOptions;
  #servers: Server[] | undefined;
  #lookingUp: Promise<Server[]> | undefined;
  #next = 0;
  /** Which manager opened each stream, for {@link notifyResponseByteRead}. */
  readonly #managerOf = new WeakMap<http2.ClientHttp2Stream, Http2SessionManager>();
  /** The sessions not closed yet, each with a promise of its `close` event. */
  readonly #open = new Map<http2.Http2Session, Promise<void>>();
  #closed: Promise<void> | undefined;

  constructor(authority: string, backends: Backends, options: ClientOptions) {
    this.authority = authority;
    this.#backends = backends;
    this.#options = options;
    if (backends.kind === "static") {
      this.#servers = backends.baseUrls.map((url) => new Server(url, options, this.#nodeOptions()));
    }
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    this.#refuseIfClosed();
    const servers = this.#servers ?? (await this.#lookUp());
    let failure: unknown;
    for (const server of this.#turn(servers)) {
      this.#refuseIfClosed();
      let stream: http2.ClientHttp2Stream;
      try {
        stream = await server.manager.request(method, path, headers, options);
      } catch (error) {
        server.failed(); // nothing was sent: try the next server
        failure = error;
        continue;
      }
      server.connected();
      if (this.#closed !== undefined) {
        // Closed while the session was being opened: do not use (or keep) it.
        stream.close();
        this.#refuseIfClosed();
      }
      this.#managerOf.set(stream, server.manager);
      this.#track(stream.session);
      this.#reportLostConnection(stream);
      return stream;
    }
    this.#refuseIfClosed();
    throw unavailable(failure);
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.#managerOf.get(stream)?.notifyResponseByteRead(stream);
  }

  /** Destroy every session (open streams fail) and resolve once all have closed. */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      for (const server of this.#servers ?? []) {
        server.manager.abort();
      }
      this.#closed = Promise.all(this.#open.values()).then(() => undefined);
    }
    return this.#closed;
  }

  /** The servers in the order to try for this request: from the next in turn, those passed over last. */
  #turn(servers: readonly Server[]): Server[] {
    const start = this.#next % servers.length;
    this.#next = start + 1;
    const rotated = [...servers.slice(start), ...servers.slice(0, start)];
    return [...rotated.filter((s) => !s.passedOver), ...rotated.filter((s) => s.passedOver)];
  }

  /** Look the name up (once; again only after a failed look-up) and make its servers. */
  #lookUp(): Promise<Server[]> {
    const backends = this.#backends;
    if (backends.kind !== "dns") {
      throw new Error("unreachable: a static list has its servers from the start");
    }
    this.#lookingUp ??= lookUp(backends).then(
      (urls) => {
        this.#refuseIfClosed();
        this.#servers = urls.map((url) => new Server(url, this.#options, this.#nodeOptions(backends.host)));
        return this.#servers;
      },
      (error: unknown) => {
        this.#lookingUp = undefined;
        throw new ConnectError(`cannot look up ${backends.host}: ${String(error)}`, Code.Unavailable, undefined, undefined, error);
      },
    );
    return this.#lookingUp;
  }

  /** Node's TLS options; for a looked-up name, the name is the TLS server name (unless one is given). */
  #nodeOptions(name?: string): http2.SecureClientSessionOptions {
    const given: http2.SecureClientSessionOptions = typeof this.#options.tls === "object" ? this.#options.tls : {};
    if (name === undefined || !this.#options.tls || given.servername !== undefined || isIP(name) !== 0) {
      return given;
    }
    return { ...given, servername: name };
  }

  /**
   * A connection that fails or closes before the server answered a request makes that
   * request `UNAVAILABLE`, as in gRPC's other clients, with what went wrong. Node ends
   * the streams of such a session as canceled: a stream still waiting for the session
   * errs with `ERR_HTTP2_STREAM_CANCEL` (caused by, say, a server certificate that does
   * not verify), which Connect reports as `INTERNAL`, and one already sent closes with
   * `RST_STREAM` `CANCEL`, reported as `CANCELLED`. These listeners, registered before
   * Connect's, report first (Connect keeps the first error of a request). A usual
   * cause of the second: a server that wants a client certificate (mTLS) and got none,
   * or one it does not trust, ends the connection right after the TLS handshake.
   */
  #reportLostConnection(stream: http2.ClientHttp2Stream): void {
    const session = stream.session;
    const secure = session?.encrypted === true;
    let answered = false;
    const lost = (message: string, cause?: unknown) => {
      if (answered || this.#closed !== undefined) {
        return;
      }
      answered = true; // once
      stream.emit("error", new ConnectError(message, Code.Unavailable, undefined, undefined, cause));
    };
    stream.once("response", () => {
      answered = true;
    });
    stream.once("error", (error: unknown) => {
      if ((error as { code?: unknown }).code === "ERR_HTTP2_STREAM_CANCEL") {
        const cause = (error as { cause?: unknown }).cause;
        lost(`cannot connect: ${cause instanceof Error ? cause.message : String(error)}`, cause ?? error);
      }
    });
    stream.once("close", () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL && session?.destroyed === true) {
        const hint = secure ? " (with TLS: does the server require a client certificate that it did not get, or does not trust?)" : "";
        lost(`the connection closed before the server answered${hint}`);
      }
    });
  }

  #refuseIfClosed(): void {
    if (this.#closed !== undefined) {
      // Canceled, not Unavailable: a stream must not re-attach through a closed client.
      throw new ConnectError("the connection is closed", Code.Canceled);
    }
  }

  #track(session: http2.Http2Session | undefined): void {
    if (session === undefined || this.#open.has(session)) {
      return;
    }
    const closed = new Promise<void>((resolve) => {
      session.once("close", () => {
        this.#open.delete(session);
        resolve();
      });
    });
    this.#open.set(session, closed);
  }
}

/**
 * A failure to open a session as `UNAVAILABLE` (what gRPC's clients report when they
 * cannot connect), with its message. Connect reports most of them so already, but a
 * TLS failure (a server certificate that does not verify) as `INTERNAL`.
 */
function unavailable(failure: unknown): unknown {
  if (failure instanceof ConnectError && failure.code !== Code.Internal) {
    return failure;
  }
  const message = failure instanceof ConnectError ? failure.rawMessage : failure instanceof Error ? failure.message : String(failure);
  return new ConnectError(`cannot connect: ${message}`, Code.Unavailable, undefined, undefined, failure);
}

/** The connection of a client: the transport its calls use, and how to close it. */
export interface Connection {
  readonly transport: Transport;
  /** Close every HTTP/2 session (open calls fail); resolves once they are closed. */
  close(): Promise<void>;
}

/** Make the client's connection; a server's session opens with the first call that goes to it. */
export function openConnection(backends: Backends, options: ClientOptions): Connection {
  if (options.transport !== undefined) {
    // Handed in: the caller owns its connections.
    return { transport: options.transport, close: () => Promise.resolve() };
  }
  // The transport builds each request's path from its base URL and checks that URL's
  // origin against the manager's authority; the session a request goes out on sets its
  // own :authority.
  const baseUrl =
    backends.kind === "static"
      ? (backends.baseUrls[0] as string)
      : `${backends.secure ? "https" : "http"}://${isIP(backends.host) === 6 ? `[${backends.host}]` : backends.host}:${backends.port}`;
  const sessions = new Sessions(new URL(baseUrl).origin, backends, options);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: sessions,
    readMaxBytes: options.readMaxBytes ?? DEFAULTS.readMaxBytes,
    // The token first: the caller's interceptors see the header it adds.
    interceptors: [...(options.token === undefined ? [] : [tokenInterceptor(options.token)]), ...(options.interceptors ?? [])],
  });
  return { transport, close: () => sessions.close() };
}
