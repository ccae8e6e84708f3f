import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { UnprocessableError, ValidationError, type FieldProblem } from '../platform/errors.js';

/** A compiled TypeBox schema that reports problems by field, like fastify's own validation (400 VALIDATION_FAILED). */
export interface FieldValidator<T> {
  /** The value when valid; throws ValidationError naming each invalid field under `prefix` otherwise. */
  parse(value: unknown, prefix: string, rename?: (property: string) => string): T;
}

export function fieldValidator<T>(schema: TSchema): FieldValidator<T> {
  const validator = Compile(schema);
  return {
    parse(value, prefix, rename = (property) => property) {
      if (validator.Check(value)) return value as T;
      const problems: FieldProblem[] = [];
      for (const issue of validator.Errors(value)) {
        // `additionalProperties: false` also reports each extra property as "schema is false": keep the clearer one.
        if (issue.keyword === 'boolean') continue;
        const params = issue.params as { requiredProperties?: string[]; additionalProperties?: string[] };
        const path = issue.instancePath.split('/').slice(1).map((segment, index) => (index === 0 ? rename(segment) : segment));
        const base = `${prefix}${path.length > 0 ? `/${path.join('/')}` : ''}`;
        if (issue.keyword === 'required' && params.requiredProperties) {
          for (const missing of params.requiredProperties) problems.push({ field: `${base}/${path.length === 0 ? rename(missing) : missing}`, message: 'is required' });
        } else if (issue.keyword === 'additionalProperties' && params.additionalProperties) {
          for (const extra of params.additionalProperties) problems.push({ field: `${base}/${extra}`, message: 'is not a known field' });
        } else {
          problems.push({ field: base, message: issue.message });
        }
      }
      throw invalidFields(problems);
    },
  };
}

/** 400 VALIDATION_FAILED naming the fields, as for a schema violation. */
export function invalidFields(problems: FieldProblem[]): ValidationError {
  const unique = problems.filter((problem, index) => problems.findIndex((other) => other.field === problem.field && other.message === problem.message) === index);
  return new ValidationError(`Invalid request: ${unique.map((problem) => `${problem.field} ${problem.message}`).join('; ')}`, unique);
}

/** 422 with `errors` naming the fields whose content (not shape) is unacceptable. */
export function unacceptableFields(errorCode: string, problems: FieldProblem[], extensions: Record<string, unknown> = {}): UnprocessableError {
  return new UnprocessableError(errorCode, problems.map((problem) => `${problem.field} ${problem.message}`).join('; '), { errors: problems, ...extensions });
}
