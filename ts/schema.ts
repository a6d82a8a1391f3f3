// Schemas users hand us: zod v4, zod v3, Standard Schema, AI SDK `jsonSchema()` objects or plain
// JSON Schema. Here they become JSON Schema (for the model and the native validator) and are
// used to validate values in JS when they can do more than JSON Schema (zod defaults/transforms).

export type AnySchema = any

export interface SchemaIssue {
  path: string
  message: string
}

export type Validation = { ok: true; value: unknown } | { ok: false; issues: SchemaIssue[] }

const EMPTY_OBJECT = { type: 'object', properties: {}, additionalProperties: false }

// Converters are loaded on first need, through ESM, so they share the module instance the user
// imported (a CJS `require('zod')` would load a second copy of zod: ~30 ms and its memory).
let zod4: typeof import('zod') | undefined
let zodToJsonSchema: typeof import('zod-to-json-schema').zodToJsonSchema | undefined

/** Loads whatever `toJSONSchema` will need for these schemas. Call before converting. */
export async function prepareSchemas(schemas: AnySchema[]): Promise<void> {
  for (const s of schemas) {
    if (s == null || typeof s !== 'object' || jsonSchemaCache.has(s)) continue
    if (isZod4(s) && typeof s.toJSONSchema !== 'function' && !zod4) zod4 = await import('zod')
    else if (isZod3(s) && !zodToJsonSchema) zodToJsonSchema = (await import('zod-to-json-schema')).zodToJsonSchema
  }
}
const jsonSchemaCache = new WeakMap<object, Record<string, unknown>>()

function isZod4(s: any): boolean {
  return s != null && typeof s === 'object' && '_zod' in s
}
function isZod3(s: any): boolean {
  return s != null && typeof s === 'object' && '_def' in s && typeof s.safeParse === 'function' && !('_zod' in s)
}

/** True when the schema validates in JS (zod, Standard Schema); false for plain JSON Schema. */
export function isJsValidated(schema: AnySchema): boolean {
  return schema != null && typeof schema === 'object' && (typeof schema['~standard']?.validate === 'function' || typeof schema.safeParse === 'function' || typeof schema.validate === 'function')
}

/** The JSON Schema of `schema` (cached per schema object). */
export function toJSONSchema(schema: AnySchema): Record<string, unknown> {
  if (schema == null) return EMPTY_OBJECT
  if (typeof schema !== 'object') throw new TypeError('a schema must be a zod schema, a Standard Schema or a JSON Schema object')
  const cached = jsonSchemaCache.get(schema)
  if (cached) return cached
  let out: Record<string, unknown>
  if (isZod4(schema)) {
    const params = { io: 'input', unrepresentable: 'any' } as const
    if (typeof schema.toJSONSchema === 'function') out = schema.toJSONSchema(params)
    else if (zod4) out = zod4.toJSONSchema(schema, params) as Record<string, unknown>
    else throw new Error('internal: prepareSchemas() was not awaited before toJSONSchema()')
  } else if (isZod3(schema)) {
    if (!zodToJsonSchema) throw new Error('internal: prepareSchemas() was not awaited before toJSONSchema()')
    out = zodToJsonSchema(schema, { $refStrategy: 'none', target: 'jsonSchema7' }) as Record<string, unknown>
  } else if (schema.jsonSchema && typeof schema.jsonSchema === 'object') {
    out = schema.jsonSchema // AI SDK jsonSchema() wrapper
  } else if (typeof schema['~standard']?.jsonSchema?.input === 'function') {
    out = schema['~standard'].jsonSchema.input({ target: 'draft-07' })
  } else {
    out = schema // plain JSON Schema
  }
  if (out && typeof out === 'object') {
    const { $schema: _ignored, ...rest } = out as Record<string, unknown>
    out = rest
  }
  jsonSchemaCache.set(schema, out)
  return out
}

function pathOf(path: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined): string {
  return (path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.')
}

function standardResult(r: any): Validation {
  if (r.issues) return { ok: false, issues: r.issues.map((i: any) => ({ path: pathOf(i.path), message: i.message })) }
  return { ok: true, value: r.value }
}

/** Validates with the schema's own validator; plain JSON Schema passes through (checked natively).
 * The result is synchronous when the validator is (Standard Schema validators such as zod's,
 * without async refinements), so a hot path can skip the await. */
export function validate(schema: AnySchema, value: unknown): Validation | Promise<Validation> {
  if (schema == null) return { ok: true, value }
  const standard = schema['~standard']
  if (typeof standard?.validate === 'function') {
    const r = standard.validate(value)
    return typeof r?.then === 'function' ? Promise.resolve(r).then(standardResult) : standardResult(r)
  }
  return validateOther(schema, value)
}

async function validateOther(schema: AnySchema, value: unknown): Promise<Validation> {
  if (typeof schema.safeParseAsync === 'function') {
    const r = await schema.safeParseAsync(value)
    if (!r.success) return { ok: false, issues: r.error.issues.map((i: any) => ({ path: pathOf(i.path), message: i.message })) }
    return { ok: true, value: r.data }
  }
  if (typeof schema.validate === 'function') {
    const r = await schema.validate(value) // AI SDK jsonSchema({ validate })
    if (r && r.success === false) return { ok: false, issues: [{ path: '', message: String(r.error?.message ?? r.error) }] }
    return { ok: true, value: r && 'value' in r ? r.value : value }
  }
  return { ok: true, value }
}

/** Mastra's `validationErrors` shape: `{ formErrors, fieldErrors: { path: [message] } }`. */
export function issuesToErrors(issues: SchemaIssue[]): { formErrors: string[]; fieldErrors: Record<string, string[]> } {
  const formErrors: string[] = []
  const fieldErrors: Record<string, string[]> = {}
  for (const i of issues) {
    if (!i.path) formErrors.push(i.message)
    else (fieldErrors[i.path] ??= []).push(i.message)
  }
  return { formErrors, fieldErrors }
}

export function issuesToText(issues: SchemaIssue[]): string {
  return issues.map((i) => (i.path ? `- ${i.path}: ${i.message}` : `- ${i.message}`)).join('\n')
}
