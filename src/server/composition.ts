import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { ServerConfig } from './config.ts';
import { IndexService } from './catalogue/index-service.ts';
import { IndexMetrics } from './metrics.ts';
import { AttestationStore } from './provenance/attestation-store.ts';
import { IndexVerifier } from './provenance/index-verifier.ts';
import { DEFAULT_PENDING_LIMITS, PendingProvenanceService } from './provenance/pending-provenance.ts';
import { uploadAttestationsPrecheck } from './provenance/upload-attestations.ts';
import { TrustedPublisherService } from './publishing/trusted-publishers.ts';
import { indexUrls, SimplePageService, type IndexUrls } from './pages/simple-pages.ts';
import { FileSystemBlobStore } from './storage/blob-store.ts';
import { openDatabase } from './storage/database.ts';
import type { DialectName } from './storage/migrations.ts';
import type { Database } from './storage/schema.ts';
import { UploadService } from './upload/upload-service.ts';

/** The index's services wired to one database and one blob store; what `serve` and `admin` share. */
export interface CairnServices {
  config: ServerConfig;
  db: Kysely<Database>;
  dialect: DialectName;
  blobs: FileSystemBlobStore;
  index: IndexService;
  uploads: UploadService;
  simplePages: SimplePageService;
  /** Verifies attestations against the index's trusted roots (public-good, operator's, dev trust). */
  verifier: IndexVerifier;
  pendingProvenance: PendingProvenanceService;
  /** Trusted Publishing: which CI identities may publish which projects. */
  publishers: TrustedPublisherService;
  /** Attestations bound to files: the integrity API, and which files carry provenance (simple and JSON APIs). */
  attestations: AttestationStore;
  urls: IndexUrls;
  /** The mounted dev trust domain's BASE URL (`serve --dev-trust`), else null. */
  devTrustBaseUrl: (() => string) | null;
  metrics: IndexMetrics;
  clock: () => Date;
  close(): Promise<void>;
}

export async function openServices(config: ServerConfig, clock: () => Date = () => new Date()): Promise<CairnServices> {
  const verifier = IndexVerifier.forConfig(config.trustedRootFiles);
  const opened = await openDatabase(config.databaseUrl);
  const db = opened.db;
  const blobs = new FileSystemBlobStore(join(config.dataDir));
  const index = new IndexService(db);
  const urls = indexUrls(config.baseUrl);
  const simplePages = new SimplePageService(index, urls);
  // Pages are derived data: a change this process commits drops that project's cached pages.
  const projectChanged = (name: string) => simplePages.invalidate(name);
  const uploads = new UploadService(db, blobs, clock, projectChanged);
  const publishers = new TrustedPublisherService(db);
  const attestations = new AttestationStore(db);
  const pendingProvenance = new PendingProvenanceService(
    db,
    attestations,
    verifier.verifyReceived,
    clock,
    {
      ...DEFAULT_PENDING_LIMITS,
      ttlSeconds: config.pendingProvenanceTtlSeconds,
      maxPerSigner: config.pendingMaxPerSigner,
      maxPerFilename: config.pendingMaxPerFilename,
    },
    projectChanged,
  );
  uploads.addPrecheck(uploadAttestationsPrecheck(verifier.verifyReceived, attestations, pendingProvenance, (p) => publishers.publisherForPrincipal(p), clock));
  simplePages.setProvenanceLookup((ids) => attestations.filesWithAttestations(ids));
  return {
    config,
    db,
    dialect: opened.dialect,
    blobs,
    index,
    uploads,
    simplePages,
    verifier,
    pendingProvenance,
    publishers,
    attestations,
    urls,
    devTrustBaseUrl: null,
    metrics: new IndexMetrics(),
    clock,
    close: async () => {
      await opened.close();
      await blobs.close();
    },
  };
}
