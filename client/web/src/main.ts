// The console's entry point: the page frame, the router (views live in the
// address's fragment, so the host serves one page), and the token controls.
import { host } from "./api";
import { catalogueView, opView } from "./catalogue";
import { h, replace } from "./dom";
import { executionView } from "./execution";
import { historyView } from "./history";
import { plotsView } from "./plots";
import { showFailure, type View } from "./shell";
import { forgetToken, getToken } from "./token";

const main = document.getElementById("main") as HTMLElement;
const tokenArea = document.getElementById("token-area") as HTMLElement;
const footer = document.getElementById("server-info") as HTMLElement;
let leave: AbortController | null = null;

function route(): View {
  const hash = window.location.hash.replace(/^#/, "") || "/ops";
  const [path = "", search = ""] = hash.split("?", 2);
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "ops" && parts[1]) return opView(parts[1], query);
  if (parts[0] === "executions" && parts[1]) return executionView(parts[1]);
  if (parts[0] === "executions") return historyView(query);
  if (parts[0] === "plots") return plotsView(query);
  return catalogueView(query);
}

function markNav(): void {
  const section = (window.location.hash.replace(/^#\//, "").split(/[/?]/)[0] || "ops");
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (link.dataset["section"] === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function show(): Promise<void> {
  leave?.abort();
  const controller = new AbortController();
  leave = controller;
  replace(main);
  markNav();
  renderTokenArea();
  try {
    await route()(main, controller.signal);
  } catch (error) {
    if (!controller.signal.aborted) showFailure(main, error, () => void show(), "The page failed");
  }
}

function renderTokenArea(): void {
  if (getToken() === null) {
    replace(tokenArea);
    return;
  }
  const forget = h("button", { type: "button" }, "Forget token");
  forget.addEventListener("click", () => {
    forgetToken();
    void show();
  });
  replace(tokenArea, h("span", { class: "hint" }, "Using a token. "), forget);
}

async function serverInfo(): Promise<void> {
  try {
    const info = await host.getServerInfo({});
    replace(footer, `ophost ${info.ophostVersion} · protocol ${info.protocolVersion} · server ${info.serverId}`);
  } catch {
    replace(footer, "ophost");
  }
}

window.addEventListener("hashchange", () => void show());
document.addEventListener("ophost-token", () => {
  renderTokenArea();
  void serverInfo();
});
void show();
void serverInfo();

// The skip link moves the focus without touching the address (which holds the view).
document.querySelector<HTMLAnchorElement>("a.skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
