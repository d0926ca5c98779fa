/**
 * Starts a real ophost server (`python -m ophost serve`) for the tests, on a free port.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

/** The repository root (this file runs from client/ts/dist/test/). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** A running server and how to stop it. */
export interface TestServer {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Serve `opsFile` (relative to the repository root) and wait for its "serving" line;
 * `extraArgs` go on `ophost serve`'s command line (`--tls-cert`, ...).
 */
export async function startServer(opsFile = "examples/ops.py", timeoutMs = 30_000, extraArgs: readonly string[] = []): Promise<TestServer> {
  const args = ["-m", "ophost", "serve", "-f", opsFile, "--port", "0", "--store", "memory", ...extraArgs];
  const child: ChildProcess = spawn(`${REPO_ROOT}.venv/bin/python`, args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    for await (const line of lines) {
      const match = /^ophost: serving .* on (\S+):(\d+)$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) {
        const host = match[1];
        const port = Number(match[2]);
        return {
          address: `${host}:${port}`,
          host,
          port,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) {
              const exited = once(child, "exit");
              child.kill("SIGTERM");
              await exited;
            }
          },
        };
      }
    }
    throw new Error(`the server exited before serving:\n${stderr.join("")}`);
  } finally {
    clearTimeout(timer);
  }
}
