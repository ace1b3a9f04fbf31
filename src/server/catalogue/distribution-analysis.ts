import { createHash } from 'node:crypto';
import { createBLAKE2b, type IHasher } from 'hash-wasm';
import { CairnError } from '../../errors.ts';
import { coreMetadataToJsonInfo } from '../../formats/core-metadata.ts';
import { packageTypeOf, parseDistributionFilename, pythonTagOf } from '../../formats/dist-filename.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { readDistributionMetadata } from '../upload/dist-metadata.ts';

/**
 * What an upload learns about a distribution before storing it, learnt the same way (the same
 * filename rules, the same bounded metadata reader, the same digests), from bytes in memory.
 */
export interface AnalysedDistribution {
  filename: string;
  size: number;
  sha256: string;
  md5: string;
  blake2b256: string;
  /** The project's name as its core metadata spells it (what a new project is called). */
  projectName: string;
  normalizedProject: string;
  /** PEP 440 normal form, as releases are stored. */
  version: string;
  packagetype: 'bdist_wheel' | 'sdist';
  pythonVersion: string;
  requiresPython: string | null;
  summary: string | null;
  /** The JSON API's `info` for the release, should this file create it. */
  infoJson: string;
  coreMetadata: string;
  coreMetadataSha256: string;
  coreMetadataLength: number;
}

/** blake2b-256 is not among node:crypto's digests; one hash-wasm instance is reused per thread. */
export class DistributionHasher {
  private blake2b: Promise<IHasher> | null = null;

  async digests(bytes: Uint8Array): Promise<{ sha256: string; md5: string; blake2b256: string }> {
    const blake2b = await (this.blake2b ??= createBLAKE2b(256));
    blake2b.init();
    blake2b.update(bytes);
    return {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      md5: createHash('md5').update(bytes).digest('hex'),
      blake2b256: blake2b.digest('hex'),
    };
  }
}

/**
 * Validates one distribution as `POST /legacy/` does (UploadService): the filename, its name and
 * PEP 440 version, a non-empty file, core metadata naming the same project and version. Throws
 * the upload's CairnError codes.
 */
export async function analyseDistribution(filename: string, bytes: Buffer, hasher: DistributionHasher): Promise<AnalysedDistribution> {
  const parsed = parseDistributionFilename(filename);
  if (bytes.length === 0) throw new CairnError('upload.invalid_archive', `Invalid distribution file: ${filename} is empty`);
  const version = normalizeVersion(parsed.version);
  const { raw, metadata } = await readDistributionMetadata(bytes, parsed);
  const digests = await hasher.digests(bytes);
  return {
    filename,
    size: bytes.length,
    ...digests,
    projectName: metadata.name,
    normalizedProject: parsed.normalizedProject,
    version,
    packagetype: packageTypeOf(parsed),
    pythonVersion: pythonTagOf(parsed),
    requiresPython: metadata.requiresPython ?? null,
    summary: metadata.summary ?? null,
    infoJson: JSON.stringify(coreMetadataToJsonInfo(metadata)),
    coreMetadata: raw.toString('utf8'),
    coreMetadataSha256: createHash('sha256').update(raw).digest('hex'),
    coreMetadataLength: raw.length,
  };
}
