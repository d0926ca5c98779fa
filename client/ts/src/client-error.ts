/**
 * The root of the client's errors, and the error of a value that cannot be converted.
 *
 * They live apart from the rest of the hierarchy (`errors.ts`, which re-exports them):
 * the value conversion throws them, and the events that the other errors describe are
 * built on that conversion.
 *
 * @module
 */

/** Root of every error the ophost client throws on purpose. */
export class OpHostClientError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * A value cannot be converted: a JS value with no wire form (a function, a symbol,
 * a class instance, a cycle, a string with a lone surrogate, ...) or a received
 * `Value` that is malformed.
 *
 * `path` names the value inside the request (`inputs.rows[2].x`, `config.db`,
 * `outputs.result`); `opName` is the op it was meant for, when known.
 */
export class ValueConversionError extends OpHostClientError {
  readonly path: string;
  readonly problem: string;
  readonly opName: string | undefined;

  constructor(path: string, problem: string, opName?: string) {
    const where = opName === undefined ? path : `${path} of op "${opName}"`;
    super(`cannot convert ${where}: ${problem}`);
    this.path = path;
    this.problem = problem;
    this.opName = opName;
  }

  /** The input the value belongs to (`rows` for `inputs.rows[2].x`), if it is an input. */
  get input(): string | undefined {
    const match = /^inputs\.([A-Za-z0-9_]+)/.exec(this.path);
    return match?.[1];
  }

  /** The same error, attributed to an op. */
  forOp(opName: string): ValueConversionError {
    return new ValueConversionError(this.path, this.problem, opName);
  }
}
