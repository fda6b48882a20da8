// Request validation: bodies are checked strictly (no coercion, unknown fields rejected, nothing removed);
// query strings and path parameters are coerced, since everything in a URL arrives as text.

import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import type { ErrorDetail } from '../kernel/errors.ts';

const shared: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...shared, ...options });
  addFormats.default(ajv);
  return ajv;
}

const bodies = makeAjv({ coerceTypes: false });

/** The body rules of the API for any other door that takes the same input (the CLI). */
export const compileBodyValidator = <T>(schema: object) => bodies.compile<T>(schema);

export function installValidators(app: FastifyInstance): void {
  const urls = makeAjv({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodies.compile(schema) : urls.compile(schema),
  );
}

const keywordCodes: Record<string, string> = {
  required: 'REQUIRED',
  additionalProperties: 'UNKNOWN_FIELD',
  type: 'INVALID_TYPE',
  format: 'INVALID_FORMAT',
  pattern: 'INVALID_FORMAT',
  enum: 'INVALID_VALUE',
  const: 'INVALID_VALUE',
  anyOf: 'INVALID_VALUE',
  minLength: 'TOO_SHORT',
  maxLength: 'TOO_LONG',
  minimum: 'TOO_SMALL',
  exclusiveMinimum: 'TOO_SMALL',
  maximum: 'TOO_LARGE',
  exclusiveMaximum: 'TOO_LARGE',
  minItems: 'TOO_FEW_ITEMS',
  maxItems: 'TOO_MANY_ITEMS',
  uniqueItems: 'DUPLICATE_ITEMS',
  maxProperties: 'TOO_MANY_FIELDS',
};

function fieldOf(error: ErrorObject | FastifySchemaValidationError): string {
  const path = ('instancePath' in error ? error.instancePath : '')
    .split('/')
    .filter((part) => part.length > 0)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') path.push(String(params.missingProperty));
  if (error.keyword === 'additionalProperties') path.push(String(params.additionalProperty));
  return path.join('.');
}

function messageOf(error: ErrorObject | FastifySchemaValidationError, field: string): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field} is required.`;
    case 'additionalProperties':
      return `${field} is not a field that can be set here.`;
    case 'enum':
      return `${field} must be one of: ${(params.allowedValues as unknown[]).join(', ')}.`;
    case 'anyOf':
      return `${field} has a value of the wrong type or shape.`;
    default:
      return `${field || 'the body'} ${error.message ?? 'is not valid'}.`;
  }
}

/** Turns Ajv's errors into field-level details, dropping the branch noise a failed anyOf produces. */
export function validationDetails(
  errors: ReadonlyArray<ErrorObject | FastifySchemaValidationError>,
  part: string,
): ErrorDetail[] {
  const anyOfPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf').map((e) => ('instancePath' in e ? e.instancePath : '')),
  );
  const details = errors
    .filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has('instancePath' in e ? e.instancePath : ''))
    .map((error) => {
      const field = fieldOf(error) || part;
      return { field, code: keywordCodes[error.keyword] ?? 'INVALID_VALUE', message: messageOf(error, field) };
    });
  const seen = new Set<string>();
  return details.filter((d) => {
    const key = `${d.field}|${d.code}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
