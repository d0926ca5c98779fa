/**
 * Op definitions (`OpDefinition`) as plain TS values.
 *
 * Types and config schemas stay the generated messages (`TypeSpec`, `ConfigField`):
 * they are schemas to inspect, and `type.displayName` names a type for people.
 *
 * @module
 */

import type { ConfigField } from "./gen/ophost/v1/config_pb.js";
import { Backoff, Jitter, type InputSpec, type OpDefinition, type OutputSpec } from "./gen/ophost/v1/op_pb.js";
import type { TypeSpec } from "./gen/ophost/v1/type_pb.js";
import { decodeMetadata, type MetadataEntry } from "./metadata.js";
import { fromValue, type OpValue } from "./values.js";

/** One input of an op. */
export interface OpInput {
  readonly name: string;
  readonly type: TypeSpec | undefined;
  readonly description: string | undefined;
  /** True when the caller must supply it (no default, not of type Nothing). */
  readonly required: boolean;
  /** Whether the input has a default a `Value` can carry. */
  readonly hasDefault: boolean;
  /** The default (meaningful when `hasDefault`; `null` is a real default of None). */
  readonly defaultValue: OpValue | undefined;
  readonly metadata: readonly MetadataEntry[];
  readonly assetKey: readonly string[] | undefined;
}

/** One output of an op. */
export interface OpOutput {
  readonly name: string;
  readonly type: TypeSpec | undefined;
  readonly description: string | undefined;
  readonly required: boolean;
  readonly metadata: readonly MetadataEntry[];
  readonly assetKey: readonly string[] | undefined;
}

/** How an op retries (docs/protocol.md, section 8). */
export interface RetryPolicy {
  readonly maxRetries: number;
  /** Absent means no delay. */
  readonly delaySeconds: number | undefined;
  readonly backoff: "LINEAR" | "EXPONENTIAL" | undefined;
  readonly jitter: "FULL" | "PLUS_MINUS" | undefined;
}

/**
 * An op's signature. Ops listed without the full view (`listOps()`) carry only the
 * name, description and each input's and output's name and type.
 */
export interface OpSignature {
  readonly name: string;
  readonly description: string | undefined;
  readonly inputs: readonly OpInput[];
  readonly outputs: readonly OpOutput[];
  /** The top-level config field (empty name); its type says what config the op takes. */
  readonly config: ConfigField | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly codeVersion: string | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly requiredResourceKeys: readonly string[];
  /** The definition as it came off the wire. */
  readonly definition: OpDefinition;
}

function decodeInput(input: InputSpec, op: string): OpInput {
  return {
    name: input.name,
    type: input.type,
    description: input.description,
    required: input.required,
    hasDefault: input.defaultValue !== undefined,
    defaultValue:
      input.defaultValue === undefined ? undefined : fromValue(input.defaultValue, `${op}.inputs.${input.name}.default`),
    metadata: decodeMetadata(input.metadata),
    assetKey: input.assetKey && [...input.assetKey.path],
  };
}

function decodeOutput(output: OutputSpec): OpOutput {
  return {
    name: output.name,
    type: output.type,
    description: output.description,
    required: output.required,
    metadata: decodeMetadata(output.metadata),
    assetKey: output.assetKey && [...output.assetKey.path],
  };
}

/** Decode an `OpDefinition`. */
export function decodeOp(definition: OpDefinition): OpSignature {
  const retry = definition.retryPolicy;
  return {
    name: definition.name,
    description: definition.description,
    inputs: definition.inputs.map((input) => decodeInput(input, definition.name)),
    outputs: definition.outputs.map(decodeOutput),
    config: definition.config,
    tags: { ...definition.tags },
    codeVersion: definition.codeVersion,
    retryPolicy: retry && {
      maxRetries: retry.maxRetries,
      delaySeconds: retry.delaySeconds,
      backoff: retry.backoff === Backoff.LINEAR ? "LINEAR" : retry.backoff === Backoff.EXPONENTIAL ? "EXPONENTIAL" : undefined,
      jitter: retry.jitter === Jitter.FULL ? "FULL" : retry.jitter === Jitter.PLUS_MINUS ? "PLUS_MINUS" : undefined,
    },
    requiredResourceKeys: [...definition.requiredResourceKeys],
    definition,
  };
}
