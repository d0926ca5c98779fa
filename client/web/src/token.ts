// The bearer token the console sends, and where it is kept. By default it lives in
// this tab's sessionStorage (gone when the tab closes); only when the user ticks
// "Remember" is it written to localStorage.

const KEY = "ophost.console.token";

function read(store: Storage): string | null {
  try {
    return store.getItem(KEY);
  } catch {
    return null;
  }
}

let current: string | null = read(sessionStorage) ?? read(localStorage);

/** The token to send, or null when the user gave none. */
export function getToken(): string | null {
  return current;
}

/** Whether the token is kept in localStorage (remembered beyond the session). */
export function isRemembered(): boolean {
  return read(localStorage) !== null;
}

/** Uses `token` from now on; kept in sessionStorage, or localStorage when `remember`. */
export function setToken(token: string, remember: boolean): void {
  current = token;
  try {
    sessionStorage.setItem(KEY, token);
    if (remember) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // Storage can be refused (private mode, a policy): the token stays in memory.
  }
}

/** Forgets the token everywhere. */
export function forgetToken(): void {
  current = null;
  try {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
  } catch {
    // Nothing was stored.
  }
}
