import { readFileSync } from 'node:fs';
import { CairnError } from '../errors.ts';
import { parsePolicy } from '../policy/policy-file.ts';
import type { LoadPolicyOptions, Policy } from '../policy/types.ts';

/**
 * Reads and parses a policy: the file-reading entry point beside the pure `parsePolicy`, so tools
 * embedding cairn get a one-call API while src/policy stays free of I/O.
 *
 * `pathOrText` is read as a file path unless it looks like TOML text (contains a newline or `=`),
 * or `options.as` says which it is.
 */
export function loadPolicy(pathOrText: string, options: LoadPolicyOptions = {}): Policy {
  const as = options.as ?? 'auto';
  const isText = as === 'text' || (as === 'auto' && /[\n=]/.test(pathOrText));
  if (isText) return parsePolicy(pathOrText, options.source ?? '<policy>');
  let text: string;
  try {
    text = readFileSync(pathOrText, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CairnError('policy.invalid', `cannot read the policy ${pathOrText}: ${reason} (write one with \`cairn policy init ${pathOrText}\`)`, { source: pathOrText, line: null, key: null });
  }
  return parsePolicy(text, options.source ?? pathOrText);
}
