export type AnySchema = any;
export interface SchemaIssue {
    path: string;
    message: string;
}
export type Validation = {
    ok: true;
    value: unknown;
} | {
    ok: false;
    issues: SchemaIssue[];
};
/** Loads whatever `toJSONSchema` will need for these schemas. Call before converting. */
export declare function prepareSchemas(schemas: AnySchema[]): Promise<void>;
/** True when the schema validates in JS (zod, Standard Schema); false for plain JSON Schema. */
export declare function isJsValidated(schema: AnySchema): boolean;
/** The JSON Schema of `schema` (cached per schema object). */
export declare function toJSONSchema(schema: AnySchema): Record<string, unknown>;
/** Validates with the schema's own validator; plain JSON Schema passes through (checked natively).
 * The result is synchronous when the validator is (Standard Schema validators such as zod's,
 * without async refinements), so a hot path can skip the await. */
export declare function validate(schema: AnySchema, value: unknown): Validation | Promise<Validation>;
/** Mastra's `validationErrors` shape: `{ formErrors, fieldErrors: { path: [message] } }`. */
export declare function issuesToErrors(issues: SchemaIssue[]): {
    formErrors: string[];
    fieldErrors: Record<string, string[]>;
};
export declare function issuesToText(issues: SchemaIssue[]): string;
