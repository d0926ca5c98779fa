// What every view shares: the main region, the token prompt and error boxes.
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
