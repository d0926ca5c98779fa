// Builds the console into server/ophost/console/static: index.html (copied from
// src/index.html), console.js (one bundle of src/main.ts and its packages) and
// console.css (from src/console.css). The output depends only on the sources and
// the pinned packages (no timestamps, no source maps with absolute paths), so
// `make checkgenerate` can tell a stale build from a fresh one.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(here, "..", "..", "server", "ophost", "console", "static");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  absWorkingDir: here,
  entryPoints: { console: "src/main.ts" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  outdir: out,
  logLevel: "warning",
});
await build({
  absWorkingDir: here,
  entryPoints: { console: "src/console.css" },
  bundle: true,
  minify: true,
  charset: "utf8",
  outdir: out,
  logLevel: "warning",
});
await copyFile(join(here, "src", "index.html"), join(out, "index.html"));
