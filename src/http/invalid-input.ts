import type { FastifySchemaValidationError, RouteOptions } from 'fastify';
import { CairnError, type ErrorCode } from '../errors.ts';

/**
 * What a request failing a route's JSON schema answers: one code for the route, or one per
 * top-level field with `*` for the rest. It is the code the route's own checks answer for such
 * input, so a schema moves a refusal to the edge without changing what clients see: a digest
 * that is not hex is `file.not_found` on a download URL and `provenance.malformed` in a
 * submission.
 */
export type InvalidInputCodes = ErrorCode | { readonly '*': ErrorCode; readonly [field: string]: ErrorCode };

declare module 'fastify' {
  interface FastifyContextConfig {
    invalidInput?: InvalidInputCodes;
  }
}

type SchemaErrorDataVar = Parameters<NonNullable<RouteOptions['schemaErrorFormatter']>>[1];

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The schema node a failing value sits at: its `description` says what the value must be. */
function nodeAt(root: SchemaNode | undefined, path: string[]): SchemaNode | undefined {
  let node = root;
  for (const segment of path) {
    if (!node) return undefined;
    node = node.properties?.[segment] ?? (/^\d+$/.test(segment) ? node.items : undefined);
  }
  return node;
}

function codeFor(codes: InvalidInputCodes | undefined, field: string | undefined): ErrorCode {
  if (codes === undefined) return 'request.malformed';
  if (typeof codes === 'string') return codes;
  return (field !== undefined ? codes[field] : undefined) ?? codes['*'];
}

/**
 * The CairnError for a schema failure: the route's code, and a message in the schema's own words
 * (each field's `description` names what it must be), not the validator's (`must match pattern
 * "^[0-9a-f]{64}$"`).
 */
export function invalidInputError(
  errors: FastifySchemaValidationError[],
  dataVar: SchemaErrorDataVar,
  schema: SchemaNode | undefined,
  codes: InvalidInputCodes | undefined,
): CairnError {
  const first = errors[0];
  const path = (first?.instancePath ?? '').split('/').slice(1).map(decodePointer);
  const missing = first?.keyword === 'required' ? String(first.params.missingProperty ?? '') : undefined;
  if (missing) path.push(missing);
  const code = codeFor(codes, path[0]);
  const where = dataVar === 'params' ? "the URL's " : dataVar === 'body' ? '' : `the ${dataVar} `;
  const description = nodeAt(schema, path)?.description;
  if (path.length === 0) {
    const subject = dataVar === 'params' ? 'the URL' : `the ${dataVar}`;
    return new CairnError(code, description ? `${subject} must be ${description}` : `${subject} ${first?.message ?? 'is invalid'}`);
  }
  const field = `${where}'${path.join('.')}'`;
  if (missing) return new CairnError(code, description ? `${field} is missing: it must be ${description}` : `${field} is missing`);
  return new CairnError(code, description ? `${field} must be ${description}` : `${field} ${first?.message ?? 'is invalid'}`);
}

/**
 * Gives a route with a schema the formatter that turns its validation failures into the route's
 * CairnError (an `onRoute` hook on the root instance runs this for every route). Every error
 * handler downstream, the app's and a route's own, then sees a CairnError like any other.
 */
export function installInvalidInputFormatter(route: RouteOptions): void {
  if (!route.schema || route.schemaErrorFormatter) return;
  const schema = route.schema as Partial<Record<SchemaErrorDataVar, SchemaNode>>;
  const codes = route.config?.invalidInput;
  route.schemaErrorFormatter = (errors, dataVar) => invalidInputError(errors, dataVar, schema[dataVar], codes);
}
