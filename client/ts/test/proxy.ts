/**
 * A TCP proxy that resets the client's connection once it has carried a number of
 * bytes from the server: a dropped connection in the middle of a stream.
 *
 * @module
 */

import * as net from "node:net";

/** Options of {@link ResettingProxy}. */
export interface ProxyOptions {
  /** Reset a connection once it has carried this many bytes from the server. */
  readonly cutAfterBytes: number;
  /** Reset at most this many connections. */
  readonly maxCuts: number;
  /** After the last cut, refuse every new connection (reset it at once). */
  readonly refuseAfterCuts?: boolean;
  /**
   * Cut no earlier than this many milliseconds after the server's first byte, so that
   * what the stream starts with (the acceptance of an execution) has reached the
   * client. Default 0.
   */
  readonly cutAfterMs?: number;
}

/** Listens on 127.0.0.1 and forwards every connection to `host:port`. */
export class ResettingProxy {
  /** How many connections were reset so far. */
  cuts = 0;
  /** How many connections were refused after the cuts. */
  refused = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly options: ProxyOptions,
  ) {
    this.server = net.createServer((client) => this.handle(client));
  }

  /** Start listening; returns `127.0.0.1:PORT`. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${address.port}`;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
  }

  private handle(client: net.Socket): void {
    this.track(client);
    if (this.options.refuseAfterCuts && this.cuts >= this.options.maxCuts) {
      this.refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.port, this.host);
    this.track(upstream);
    let carried = 0;
    let cutting = false;
    let firstByteAt = 0;
    client.on("data", (data) => upstream.write(data));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.on("data", (data) => {
      if (cutting) {
        return; // the connection is about to be reset: nothing more gets through
      }
      carried += data.length;
      firstByteAt ||= Date.now();
      const old = Date.now() - firstByteAt >= (this.options.cutAfterMs ?? 0);
      if (this.cuts < this.options.maxCuts && carried >= this.options.cutAfterBytes && old) {
        // Stop forwarding, then reset a moment later: a reset discards whatever the
        // client has not read yet, and what it was already sent (the acceptance of
        // its execution, say) must reach it first, as on a real network.
        this.cuts += 1;
        cutting = true;
        setTimeout(() => {
          client.resetAndDestroy();
          upstream.destroy();
        }, 50);
        return;
      }
      client.write(data);
    });
  }
}
