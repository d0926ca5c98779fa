/**
 * The HTTP/2 connection of a client and the gRPC transport over it.
 *
 * Connect's `Http2SessionManager` opens the sessions, keeps them alive with pings
 * and replaces broken ones; its `abort()` destroys them but says nothing of when
 * they are gone. {@link SessionTracker} wraps it (through the `sessionManager`
 * option of `createGrpcTransport`) and remembers every session a request went out
 * on, so that closing the client can wait until each of them has closed.
 *
 * @module
 */

import type * as http2 from "node:http2";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions, Http2SessionManager } from "@connectrpc/connect-node";
import { type ClientOptions, DEFAULTS } from "./options.js";

type SessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

/** Hands requests to Connect's session manager and keeps the sessions they used until these close. */
class SessionTracker implements SessionManager {
  readonly authority: string;
  readonly #manager: Http2SessionManager;
  /** The sessions not closed yet, each with a promise of its `close` event. */
  readonly #open = new Map<http2.Http2Session, Promise<void>>();
  #closed: Promise<void> | undefined;

  constructor(manager: Http2SessionManager) {
    this.#manager = manager;
    this.authority = manager.authority;
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    this.#refuseIfClosed();
    const stream = await this.#manager.request(method, path, headers, options);
    if (this.#closed !== undefined) {
      // Closed while the session was being opened: do not use (or keep) it.
      stream.close();
      this.#refuseIfClosed();
    }
    this.#track(stream.session);
    return stream;
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.#manager.notifyResponseByteRead(stream);
  }

  /** Destroy every session (open streams fail) and resolve once all have closed. */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#manager.abort();
      this.#closed = Promise.all(this.#open.values()).then(() => undefined);
    }
    return this.#closed;
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

/** The connection of a client: the transport its calls use, and how to close it. */
export interface Connection {
  readonly transport: Transport;
  /** Close every HTTP/2 session (open calls fail); resolves once they are closed. */
  close(): Promise<void>;
}

/** Make the client's connection; its first session opens with the first call. */
export function openConnection(baseUrl: string, options: ClientOptions): Connection {
  const nodeOptions: http2.SecureClientSessionOptions = typeof options.tls === "object" ? options.tls : {};
  const sessions = new SessionTracker(
    new Http2SessionManager(
      baseUrl,
      {
        pingIntervalMs: options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
        pingTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
        pingIdleConnection: true,
      },
      nodeOptions,
    ),
  );
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: sessions,
    readMaxBytes: options.readMaxBytes ?? DEFAULTS.readMaxBytes,
    interceptors: options.interceptors ?? [],
  });
  return { transport, close: () => sessions.close() };
}
