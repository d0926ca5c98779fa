// What every view shares: the main region, the token prompt, error boxes and the
// record of starts this browser session made (for "Re-run").
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ExecutionStartSchema, type ExecutionStart } from "./gen/ophost/v1/execution_pb";
import { callError, needsToken } from "./api";
import { h, replace, uid } from "./dom";
import { getToken, isRemembered, setToken } from "./token";

/** A view draws itself into `root`; `signal` aborts when the user leaves it. */
export type View = (root: HTMLElement, signal: AbortSignal) => Promise<void>;

/** Handles a failed call of a view: a token prompt when the host wants one (then
 * `retry`), otherwise an error box in `root`. */
export function showFailure(root: HTMLElement, error: unknown, retry: () => void, what = "The call failed"): void {
  if (needsToken(error)) {
    replace(root, tokenPrompt(error, retry));
    root.querySelector<HTMLInputElement>("input[type=password]")?.focus();
    return;
  }
  root.append(errorBox(error, what));
}

/** An alert with the status code and the host's message. */
export function errorBox(error: unknown, what: string): HTMLElement {
  const e = callError(error);
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("p", {}, h("strong", {}, `${what}: `), `${e.codeName}${e.reason ? ` (${e.reason})` : ""}`),
    h("p", {}, e.message),
  );
}

function tokenPrompt(error: unknown, retry: () => void): HTMLElement {
  const id = uid("token");
  const rememberId = uid("remember");
  const refused = getToken() !== null;
  const input = h("input", { id, type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false" });
  const remember = h("input", { id: rememberId, type: "checkbox", name: "remember", checked: isRemembered() });
  const form = h(
    "form",
    { class: "token-prompt", "aria-labelledby": `${id}-heading` },
    h("h2", { id: `${id}-heading` }, "This host requires a token"),
    h(
      "p",
      { role: "alert", class: refused ? "error-box" : "notice" },
      refused ? `The host refused the token: ${callError(error).message}` : `The host refused the call without a token: ${callError(error).message}`,
    ),
    h("div", { class: "field" }, h("label", { for: id }, "Token"), input),
    h(
      "div",
      { class: "field checkbox" },
      remember,
      h("label", { for: rememberId }, "Remember the token in this browser (localStorage); otherwise it is forgotten when this tab closes"),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Use token")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    setToken(token, remember.checked);
    document.dispatchEvent(new CustomEvent("ophost-token"));
    retry();
  });
  return form;
}

/** Sets the page title and the view's heading. */
export function heading(root: HTMLElement, text: string, ...extra: Node[]): HTMLElement {
  document.title = `${text} · ophost console`;
  const title = h("h1", { tabindex: "-1" }, text, ...extra);
  root.append(title);
  return title;
}

// The starts this tab made, by execution id, so "Re-run" can repeat them. The host
// does not report an execution's inputs, so executions started elsewhere cannot be
// re-run with their inputs. Kept in sessionStorage: gone when the tab closes.
const STARTS_KEY = "ophost.console.starts";
const MAX_STARTS = 200;
// Larger starts are not kept (their executions cannot be re-run from the console).
const MAX_START_BYTES = 256 * 1024;

function loadStarts(): Record<string, string> {
  try {
    return JSON.parse(sessionStorage.getItem(STARTS_KEY) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

export function rememberStart(executionId: string, start: ExecutionStart): void {
  const starts = loadStarts();
  const bytes = toBinary(ExecutionStartSchema, create(ExecutionStartSchema, { ...start, requestId: "" }));
  if (bytes.length > MAX_START_BYTES) return;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  starts[executionId] = btoa(binary);
  const ids = Object.keys(starts);
  for (const old of ids.slice(0, Math.max(0, ids.length - MAX_STARTS))) delete starts[old];
  try {
    sessionStorage.setItem(STARTS_KEY, JSON.stringify(starts));
  } catch {
    // A full or refused storage only loses the Re-run button.
  }
}

export function knownStart(executionId: string): ExecutionStart | null {
  const encoded = loadStarts()[executionId];
  if (!encoded) return null;
  try {
    return fromBinary(ExecutionStartSchema, Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}
