/**
 * Building `ExecutionStart` messages: inputs and config in wire form, inline or in chunks.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { ValueConversionError } from "./client-error.js";
import { type ExecutionStart, ExecutionStartSchema } from "./gen/ophost/v1/execution_pb.js";
import { NamedValueSchema, type Value, type ValueChunk, ValueSchema } from "./gen/ophost/v1/value_pb.js";
import type { ServerInfo } from "./info.js";
import { splitValue } from "./chunks.js";
import { toValue } from "./values.js";

/** Options of an execution start. */
export interface StartOptions {
  /** The op's config. Left out (or `undefined`), none is sent and the schema's defaults apply; `null` sends a null config. */
  readonly config?: unknown;
  /** Tags attached to the execution. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Makes the start idempotent: starting again with the same id and request returns the same execution. */
  readonly requestId?: string;
}

const CHUNKED_UPLOAD = "chunked_upload";

/** An execution's start, its values already encoded, so that a bad value fails before anything is sent. */
export class StartRequest {
  private constructor(
    readonly opName: string,
    private readonly values: ReadonlyArray<readonly [path: string, value: Value]>,
    private readonly tags: Readonly<Record<string, string>>,
    private readonly requestId: string,
  ) {}

  /**
   * Encode the inputs and config.
   *
   * @throws {@link ValueConversionError} naming the op and the value's path (`inputs.rows[2].x`, `config.db`).
   */
  static encode(opName: string, inputs: Readonly<Record<string, unknown>> | undefined, options: StartOptions): StartRequest {
    const values: Array<readonly [string, Value]> = [];
    try {
      for (const [name, value] of Object.entries(inputs ?? {})) {
        values.push([`inputs.${name}`, toValue(value, `inputs.${name}`)]);
      }
      if (options.config !== undefined) {
        values.push(["config", toValue(options.config, "config")]);
      }
    } catch (error) {
      throw error instanceof ValueConversionError ? error.forOp(opName) : error;
    }
    return new StartRequest(opName, values, { ...options.tags }, options.requestId ?? "");
  }

  /**
   * The start for `StartExecution`: every value inline.
   *
   * @throws {@link ValueConversionError} for a value over the server's inline threshold
   *   (only `Execute` uploads values in chunks).
   */
  inline(info: ServerInfo): ExecutionStart {
    const { inlineThresholdBytes } = info.limits;
    const start = create(ExecutionStartSchema, { opName: this.opName, tags: this.tags, requestId: this.requestId });
    for (const [path, value] of this.values) {
      const size = toBinary(ValueSchema, value).length;
      if (size > inlineThresholdBytes) {
        throw new ValueConversionError(
          path,
          `the value is ${size} bytes, over the server's inline threshold of ${inlineThresholdBytes} bytes; ` +
            "only the Execute stream uploads larger values (startWith: \"Execute\")",
          this.opName,
        );
      }
      if (path === "config") {
        start.config = value;
      } else {
        start.inputs.push(create(NamedValueSchema, { name: path.slice("inputs.".length), value }));
      }
    }
    return start;
  }

  /** The start for `Execute`, and the chunks of the values too large to travel inline. */
  chunked(info: ServerInfo): { start: ExecutionStart; chunks: ValueChunk[] } {
    const { inlineThresholdBytes, chunkSizeBytes } = info.limits;
    const start = create(ExecutionStartSchema, { opName: this.opName, tags: this.tags, requestId: this.requestId });
    const chunks: ValueChunk[] = [];
    for (const [path, value] of this.values) {
      // The path (inputs.<name> or config) is unique within the call, so it is the value id.
      const split = splitValue(value, inlineThresholdBytes, Math.max(chunkSizeBytes, 1), path);
      if (split.chunks.length > 0 && !info.capabilities.has(CHUNKED_UPLOAD)) {
        throw new ValueConversionError(
          path,
          `the value is ${split.size} bytes, over the server's inline threshold of ${inlineThresholdBytes} ` +
            "bytes, and the server does not accept chunked uploads",
          this.opName,
        );
      }
      chunks.push(...split.chunks);
      if (path === "config") {
        start.config = split.wire;
      } else {
        start.inputs.push(create(NamedValueSchema, { name: path.slice("inputs.".length), value: split.wire }));
      }
    }
    return { start, chunks };
  }
}
