import { SHA256_HEX } from '../formats/digests.ts';

/**
 * JSON schemas for the path parameters cairn's URLs carry. Each one admits every value a route
 * could answer with something other than an error (a page, a redirect to the normal spelling), so
 * a schema only moves to the edge a refusal the route would have made anyway. The `description`
 * is what a refusal says the value must be (see invalid-input.ts).
 */

/** As the simple API and PEP 740 write digests, and as cairn stores them: lower case only. */
export const SHA256_PARAM = {
  type: 'string',
  pattern: SHA256_HEX.source,
  description: '64 lowercase hex characters',
} as const;

/**
 * A project name in any spelling that could redirect to a real project: PEP 508's characters
 * (any case, any run of `-`, `_`, `.`), at most as long as a name may be. Anything else can never
 * name a project, whatever it normalises to.
 */
export const PROJECT_NAME_SPELLING_PARAM = {
  type: 'string',
  maxLength: 200,
  pattern: '^[A-Za-z0-9._-]+$',
  description: "a project name: at most 200 ASCII letters, digits, '.', '_' and '-'",
} as const;

/** A valid PEP 508 name (the proxy refuses any other at once; it has nothing to redirect to). */
export const PROJECT_NAME_PARAM = {
  type: 'string',
  maxLength: 200,
  pattern: '^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$',
  description: "a project name: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 200 characters",
} as const;

/**
 * PEP 440's alphabet (with the surrounding whitespace it permits); a version longer than a
 * distribution filename (255 characters, which contains it) belongs to no file.
 */
export const VERSION_PARAM = {
  type: 'string',
  maxLength: 255,
  pattern: '^\\s*[A-Za-z0-9._+!-]+\\s*$',
  description: "a PEP 440 version: ASCII letters, digits, '.', '_', '-', '+' and '!'",
} as const;

/** The characters and length every stored distribution filename has (formats/dist-filename.ts). */
export const DIST_FILENAME_PARAM = {
  type: 'string',
  maxLength: 255,
  pattern: '^[A-Za-z0-9._+!-]+$',
  description: "a distribution filename: at most 255 ASCII letters, digits, '.', '_', '-', '+' and '!'",
} as const;

/** The schema of a route's path parameters: every one named is required. */
export function paramsSchema<P extends Record<string, object>>(properties: P) {
  return { type: 'object', required: Object.keys(properties), properties } as const;
}
