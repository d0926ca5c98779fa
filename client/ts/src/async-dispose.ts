/**
 * `Symbol.asyncDispose`, the key of the method `await using` calls when it leaves its
 * block. Node 20.4 and later define it; on an older Node 20 this module installs the
 * registered symbol `Symbol.for("Symbol.asyncDispose")` in its place (the one other
 * polyfills use as well), so that a client works with `await using` on every Node
 * the package supports. A value another polyfill installed first is kept.
 *
 * @module
 */

/** The part of `SymbolConstructor` this module looks at. */
interface WithAsyncDispose {
  readonly asyncDispose?: symbol;
}

/** Define `asyncDispose` on `symbols` (`Symbol`) when it is missing; returns the symbol in use. */
export function ensureAsyncDispose(symbols: WithAsyncDispose): symbol {
  if (typeof symbols.asyncDispose !== "symbol") {
    Object.defineProperty(symbols, "asyncDispose", { value: Symbol.for("Symbol.asyncDispose") });
  }
  return symbols.asyncDispose as symbol;
}

ensureAsyncDispose(Symbol);
