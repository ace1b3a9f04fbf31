import { basename } from 'node:path';
import { CairnError } from '../errors.ts';
import { parseDistributionFilename } from '../formats/dist-filename.ts';
import { indexUrl } from '../client/index-client.ts';
import { uploadDistribution } from '../client/publish/publish-distributions.ts';
import { cancelSession, createSession, publishSession, waitForBuildProvenance, type StagedSession } from '../client/publish/staged-session.ts';

export interface StagedPublishOptions {
  index: string;
  token: string;
  requireProvenance?: 'build';
  /** Seconds to wait for build provenance of every staged file before publishing. */
  waitSeconds: number;
  /** False: stage only, and print where to test and how to publish. */
  publish: boolean;
  /** Signs a publish attestation for one file, or answers none. */
  attest: (path: string) => Promise<unknown[]>;
}

/**
 * `cairn publish --stage`: one publishing session per release (PEP 694 draft). Every file is
 * staged first; only when all are in (and, with `--require-provenance build`, all carry verified
 * build provenance) does one publish make them public together. On any failure the session is
 * canceled, so nothing staged lingers and nothing was ever public.
 */
export async function publishStaged(dists: string[], options: StagedPublishOptions): Promise<void> {
  const releases = new Map<string, { name: string; version: string; paths: string[] }>();
  for (const path of dists) {
    const parsed = parseDistributionFilename(basename(path));
    const key = `${parsed.normalizedProject} ${parsed.version}`;
    const release = releases.get(key) ?? { name: parsed.project, version: parsed.version, paths: [] };
    release.paths.push(path);
    releases.set(key, release);
  }

  const opened: { session: StagedSession; release: { name: string; version: string; paths: string[] } }[] = [];
  try {
    for (const release of releases.values()) {
      const session = await createSession(options.index, options.token, {
        name: release.name,
        version: release.version,
        files: release.paths.map((p) => basename(p)),
        requireProvenance: options.requireProvenance,
      });
      opened.push({ session, release });
      console.log(`• session for ${release.name} ${release.version}: ${session.links.session} (expires ${session['expires-at']})`);
      for (const path of release.paths) {
        await uploadDistribution(options.index, options.token, path, { attestations: await options.attest(path), uploadUrl: session.links.upload });
        console.log(`• ${basename(path)}: staged`);
      }
      console.log(`• stage index: ${session.links.stage}  (pip install --index-url ${session.links.stage} --extra-index-url ${indexUrl(options.index, '/simple/')} …)`);
    }
    if (!options.publish) {
      for (const { session } of opened) console.log(`• not published: POST ${session.links.publish} publishes, DELETE ${session.links.session} cancels`);
      return;
    }
    if (options.waitSeconds > 0) {
      for (const { session } of opened) {
        const state = await waitForBuildProvenance(session, options.token, { timeoutMs: options.waitSeconds * 1000 });
        const lacking = Object.entries(state.files).filter(([, f]) => !f['build-provenance']).map(([name]) => name);
        if (lacking.length > 0) console.log(`• still without build provenance after ${options.waitSeconds}s: ${lacking.join(', ')}`);
      }
    }
    for (const entry of opened) {
      entry.session = await publishSession(entry.session, options.token);
      console.log(`• published ${entry.release.paths.map((p) => basename(p)).join(', ')} together`);
      const normalized = parseDistributionFilename(basename(entry.release.paths[0]!)).normalizedProject;
      console.log(`• release page: ${indexUrl(options.index, `/project/${normalized}/${encodeURIComponent(entry.release.version)}/`)}`);
    }
  } catch (error) {
    if (error instanceof CairnError && error.code === 'session.incomplete') {
      const missing = (error.details?.missing ?? []) as { filename: string; missing: string }[];
      for (const item of missing) console.error(`✗ ${item.filename}: lacks ${item.missing === 'file' ? 'its upload' : 'verified build provenance'}`);
    }
    for (const { session } of opened) {
      if (session.status !== 'pending') continue;
      // A session already published (an earlier release) stays published; the others are discarded.
      await cancelSession(session.links.session, options.token).then(
        () => console.error(`• canceled ${session.links.session}: nothing of it was made public`),
        () => undefined,
      );
    }
    throw error;
  }
}
