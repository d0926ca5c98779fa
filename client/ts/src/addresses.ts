/**
 * Where a client connects: one address, several, or a name to look up.
 *
 * Replicas of a host (`ophost serve` processes sharing one database) answer any call
 * about any execution, so one client may spread its calls over them. The address a
 * client is made with is one of:
 *
 * - `host:port` or an `http(s)://` URL: one server, as always;
 * - several of those, as an array or joined by commas (`"10.0.0.1:50051,10.0.0.2:50051"`),
 *   or gRPC's `ipv4:` / `ipv6:` list URIs (`"ipv4:10.0.0.1:50051,10.0.0.2:50051"`);
 * - `dns:///name:port`: every address the name has, looked up once, at the first
 *   call (with Node's `dns.lookup`, as a connection to `name:port` would be), and
 *   not looked up again for the life of the client.
 *
 * @module
 */

import * as dns from "node:dns";
import { isIP } from "node:net";
import type { TlsOptions } from "./credentials.js";

/** What {@link createOpHostClient} takes: one address, or the addresses of several servers. */
export type ClientAddress = string | readonly string[];

/** The servers of a client: base URLs known now, or a name to look up at the first call. */
export type Backends =
  | { readonly kind: "static"; readonly baseUrls: readonly string[] }
  | { readonly kind: "dns"; readonly host: string; readonly port: number; readonly secure: boolean };

/** One address a name resolves to (what `dns.promises.lookup` gives with `all: true`). */
export interface LookupAddress {
  readonly address: string;
  readonly family: number;
}

/** A name look-up: Node's `dns.promises.lookup` by default, replaceable in tests. */
export type Lookup = (host: string) => Promise<readonly LookupAddress[]>;

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^:/\s,]+):(\d+)$/;

/** `host:port` → `http://host:port` (or `https://` with TLS); URLs stay as they are. */
export function baseUrlOf(address: string, tls: boolean | TlsOptions | undefined): string {
  if (/^https?:\/\//.test(address)) {
    if (tls && address.startsWith("http://")) {
      throw new TypeError(`the address ${address} is an http:// URL, but the tls option is set`);
    }
    return address.replace(/\/+$/, "");
  }
  if (!HOST_PORT.test(address)) {
    throw new TypeError(`the address must be host:port or an http(s):// URL, got ${JSON.stringify(address)}`);
  }
  return `${tls ? "https" : "http"}://${address}`;
}

/** The address as the client shows it: an array is joined with commas. */
export function addressLabel(address: ClientAddress): string {
  return typeof address === "string" ? address : address.join(",");
}

/** Read a client's address (see the module documentation); a malformed one throws a `TypeError`. */
export function parseAddress(address: ClientAddress, tls: boolean | TlsOptions | undefined): Backends {
  if (typeof address !== "string") {
    if (!Array.isArray(address) || !address.every((a) => typeof a === "string")) {
      throw new TypeError(`the address must be a string or an array of strings, got ${String(address)}`);
    }
    return staticList(address.map((a) => a.trim()), tls);
  }
  const scheme = /^(dns|ipv4|ipv6):/i.exec(address)?.[1]?.toLowerCase();
  if (scheme === "dns") {
    return dnsName(address, tls);
  }
  if (scheme !== undefined || address.includes(",")) {
    const list = scheme === undefined ? address : address.slice(scheme.length + 1);
    return staticList(list.split(",").map((a) => a.trim()), tls);
  }
  return staticList([address], tls); // one address, exactly as given
}

function staticList(addresses: readonly string[], tls: boolean | TlsOptions | undefined): Backends {
  if (addresses.length === 0) {
    throw new TypeError("the address list is empty");
  }
  const baseUrls = addresses.map((a) => baseUrlOf(a, tls));
  // One transport serves them all, with the path of the first.
  const paths = new Set(baseUrls.map((url) => new URL(url).pathname));
  if (paths.size > 1) {
    throw new TypeError(`the URLs of one client must have the same path, got ${addresses.join(", ")}`);
  }
  return { kind: "static", baseUrls };
}

function dnsName(address: string, tls: boolean | TlsOptions | undefined): Backends {
  // dns:///name:port and dns:name:port; gRPC's dns://server/name:port names a DNS server, which Node's lookup cannot use.
  const rest = address.slice("dns:".length);
  const name = rest.startsWith("///") ? rest.slice(3) : rest.startsWith("//") ? undefined : rest;
  const match = name === undefined ? null : HOST_PORT.exec(name);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new TypeError(`a dns address must be dns:///host:port, got ${JSON.stringify(address)}`);
  }
  const host = match[1].replace(/^\[(.*)\]$/, "$1");
  return { kind: "dns", host, port: Number(match[2]), secure: Boolean(tls) };
}

const nodeLookup: Lookup = (host) => dns.promises.lookup(host, { all: true });

/** The base URL of every address `backends.host` has now, in the order the look-up gave them. */
export async function lookUp(
  backends: Extract<Backends, { kind: "dns" }>,
  lookup: Lookup = nodeLookup,
): Promise<string[]> {
  const found = await lookup(backends.host);
  const protocol = backends.secure ? "https" : "http";
  const urls = found.map(({ address }) => `${protocol}://${isIP(address) === 6 ? `[${address}]` : address}:${backends.port}`);
  if (urls.length === 0) {
    throw new Error(`${backends.host} has no address`);
  }
  return [...new Set(urls)];
}
