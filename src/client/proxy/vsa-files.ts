import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vsaFilename } from '../verify/vsa.ts';

/** What a distribution's VSA is requested as: its file URL plus this suffix (`cairn verify --vsa` names it so). */
export const VSA_SUFFIX = '.vsa.sigstore.json';

/**
 * The VSA `cairn verify --vsa DIR` wrote for a file, if DIR holds one whose statement names that
 * very file and digest; else null. The digest check keeps a summary of other bytes under the same
 * name (an older upload, a hand-copied file) from being served as this file's.
 */
export function readVerificationSummary(dir: string, filename: string, sha256: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(dir, vsaFilename(filename)), 'utf8');
  } catch {
    return null;
  }
  try {
    const bundle = JSON.parse(text) as { dsseEnvelope?: { payload?: string } };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope?.payload ?? '', 'base64').toString('utf8')) as { subject?: { name?: string; digest?: { sha256?: string } }[] };
    const subject = statement.subject?.[0];
    return subject?.name === filename && subject.digest?.sha256 === sha256 ? text : null;
  } catch {
    return null;
  }
}
