import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';

const COMMON: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false };

/**
 * Request validation with two rule sets: the URL (params, querystring) and headers arrive as
 * text, so their numbers and booleans are coerced; JSON bodies are typed already, so a body
 * that sends `42` where a string belongs is refused, never silently converted.
 */
export function installValidation(app: FastifyInstance): void {
  const coercing = new Ajv({ ...COMMON, coerceTypes: 'array' });
  const strict = new Ajv({ ...COMMON, coerceTypes: false });
  for (const ajv of [coercing, strict]) addFormats.default(ajv);
  const known = new Set<string>();

  app.setValidatorCompiler(({ schema, httpPart }) => {
    // Shared schemas (app.addSchema) may be referenced by $id: give both instances every one.
    for (const [id, shared] of Object.entries(app.getSchemas())) {
      if (known.has(id)) continue;
      known.add(id);
      coercing.addSchema(shared as object, id);
      strict.addSchema(shared as object, id);
    }
    const ajv = httpPart === 'body' ? strict : coercing;
    // A schema with an $id used by two routes is compiled once (ajv refuses a second $id).
    const id = (schema as { $id?: unknown }).$id;
    const compiled = typeof id === 'string' ? ajv.getSchema(id) : undefined;
    return compiled ?? ajv.compile(schema as FastifySchema & object);
  });
}
