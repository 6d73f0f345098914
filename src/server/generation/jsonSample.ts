/**
 * JSON values that validate against a JSON schema: sampled with json-schema-faker (seeded, so a
 * seed gives the same value) and checked with ajv. Used for tool-call arguments and
 * response_format / structured_outputs / guided_json answers.
 */
import { Ajv } from "ajv"
import { JSONSchemaFaker } from "json-schema-faker"
import { Rng } from "../../workload/Rng.js"

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false })

/** Schema of a json_object answer without a schema: an object with one string field. */
export const JSON_OBJECT_SCHEMA = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false }

/** JSON text with every non-ASCII character escaped (\uXXXX): same value, byte-level tokens decode cleanly. */
export const asciiJson = (v: unknown): string => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** The outcome of sampling: the JSON text, or why no valid value could be made. */
export type Sampled = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly error: string }

/**
 * Sample a value of `schema` with the random stream of `seed` and validate it (ajv). Up to 8
 * draws; fails when none validates or the schema is not a valid JSON schema.
 */
export const sampleJson = (schema: Record<string, unknown>, seed: number): Sampled => {
  let validate: ReturnType<typeof ajv.compile>
  try {
    validate = ajv.compile(schema)
  } catch (e) {
    return { ok: false, error: `invalid JSON schema: ${(e as Error).message}` }
  }
  const rng = new Rng(seed)
  JSONSchemaFaker.option({ random: () => rng.uniform(), alwaysFakeOptionals: false, failOnInvalidTypes: true, useExamplesValue: false })
  for (let i = 0; i < 8; i++) {
    let v: unknown
    try {
      v = JSONSchemaFaker.generate(schema as never)
    } catch (e) {
      return { ok: false, error: `could not sample a value for the schema: ${(e as Error).message}` }
    }
    if (validate(v)) return { ok: true, text: asciiJson(v) }
  }
  return { ok: false, error: `could not sample a value that validates against the schema: ${ajv.errorsText(validate.errors)}` }
}

/** Validate `text` (JSON) against `schema`; true when it parses and validates. */
export const validatesJson = (schema: Record<string, unknown>, text: string): boolean => {
  try {
    return ajv.validate(schema, JSON.parse(text)) === true
  } catch {
    return false
  }
}
