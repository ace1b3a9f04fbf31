import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openDevTrustDomain, type DevTrustDomain } from '../devtrust/domain.ts';
import { TokenService } from './auth/tokens.ts';
import { IndexService } from './catalogue/index-service.ts';
import type { ServerConfig } from './config.ts';
import { IndexMetrics } from './metrics.ts';
import { CatalogueViews } from './pages/catalogue-views.ts';
import { FeedService } from './pages/feeds.ts';
import { indexUrls, SimplePageService, type IndexUrls } from './pages/simple-pages.ts';
import { filesWithAttestations } from './provenance/attestation-store.ts';
import { IndexVerifier } from './provenance/index-verifier.ts';
import { DEFAULT_PENDING_LIMITS, PendingProvenanceService } from './provenance/pending-provenance.ts';
import { uploadAttestationsPrecheck } from './provenance/upload-attestations.ts';
import { OidcExchangeService } from './publishing/oidc-exchange.ts';
import { publisherForPrincipal } from './publishing/upload-publisher.ts';
import { ListenAddress } from './listen-address.ts';
import { FileSystemBlobStore, type BlobStore } from './storage/blob-store.ts';
import { openDatabase } from './storage/database.ts';
import type { DialectName } from './storage/migrations.ts';
import type { Database } from './storage/schema.ts';
import { TufRepository } from './tuf/tuf-repository.ts';
import { UploadService } from './upload/upload-service.ts';

/** Where `serve --dev-trust` mounts the dev trust domain (DESIGN §9: BASE = <index>/_/dev). */
export const DEV_TRUST_PREFIX = '/_/dev';

/** What services report that an operator should read (offline TUF keys due, …). */
export interface ServiceLog {
  warn(message: string): void;
}

/** The index's services wired to one database and one blob store; what `serve` and `admin` share. */
export interface CairnServices {
  config: ServerConfig;
  /** For the storage layer's own tests and tools; routes and commands go through the services below. */
  db: Kysely<Database>;
  dialect: DialectName;
  blobs: BlobStore;
  index: IndexService;
  tokens: TokenService;
  uploads: UploadService;
  simplePages: SimplePageService;
  /** The reads behind the web UI and the JSON API's provenance states. */
  views: CatalogueViews;
  feeds: FeedService;
  /** Verifies attestations against the index's trusted roots (public-good, operator's, dev trust). */
  verifier: IndexVerifier;
  pendingProvenance: PendingProvenanceService;
  oidcExchange: OidcExchangeService;
  tuf: TufRepository;
  /** Which of these files carry attestations (simple API `provenance`, JSON API). */
  filesWithProvenance(fileIds: number[]): Promise<Set<number>>;
  urls: IndexUrls;
  /** The URL the index is reached at: the configured base URL, else the listening address. */
  listenAddress: ListenAddress;
  /** The dev trust domain (`serve --dev-trust`), else null. */
  devTrust: DevTrustDomain | null;
  /** Its BASE URL, else null. */
  devTrustBaseUrl(): string | null;
  metrics: IndexMetrics;
  clock: () => Date;
  close(): Promise<void>;
}

export interface ComposeOptions {
  clock?: () => Date;
  log?: ServiceLog;
}

/**
 * The composition root: every service of the index is built here, once, from the configuration.
 * Nothing is patched after construction; what a service needs from another comes in through its
 * constructor.
 */
export async function openServices(config: ServerConfig, options: ComposeOptions = {}): Promise<CairnServices> {
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? { warn: (message: string) => console.warn(`cairn: ${message}`) };
  const listenAddress = new ListenAddress(config.baseUrl);

  // The dev trust domain names its own URL in its trusted root and issuer, so it follows the
  // listening address (known only once the server listens on port 0).
  const devTrustBase = () => `${listenAddress.url()}${DEV_TRUST_PREFIX}`;
  const devTrust = config.devTrust
    ? await openDevTrustDomain({ stateDir: join(config.dataDir, 'dev-trust'), baseUrl: devTrustBase, clock })
    : null;
  const verifier = IndexVerifier.forConfig(config.trustedRootFiles, { dynamicRoots: devTrust ? [() => devTrust.trustedRoot()] : [] });

  const opened = await openDatabase(config.databaseUrl);
  const db = opened.db;
  const blobs: BlobStore = new FileSystemBlobStore(config.dataDir);
  const index = new IndexService(db);
  const tokens = new TokenService(db);
  const urls = indexUrls(config.baseUrl);
  const filesWithProvenance = (ids: number[]) => filesWithAttestations(db, ids);
  const simplePages = new SimplePageService(index, urls, filesWithProvenance);
  const views = new CatalogueViews(db, index);
  // Pages are derived data: a change this process commits drops that project's cached pages.
  const projectChanged = (name: string) => simplePages.invalidate(name);
  const pendingProvenance = new PendingProvenanceService(
    db,
    verifier.verifyForIndex,
    clock,
    {
      ...DEFAULT_PENDING_LIMITS,
      ttlSeconds: config.pendingProvenanceTtlSeconds,
      maxPerSigner: config.pendingMaxPerSigner,
      maxPerFilename: config.pendingMaxPerFilename,
    },
    projectChanged,
  );
  const uploads = new UploadService({
    db,
    blobs,
    tokens,
    clock,
    prechecks: [uploadAttestationsPrecheck(verifier.verifyForIndex, pendingProvenance, (p) => publisherForPrincipal(db, p), clock)],
    onProjectChanged: projectChanged,
  });
  const oidcExchange = new OidcExchangeService({
    db,
    tokens,
    issuers: () => (devTrust ? [...config.trustedOidcIssuers, `${devTrustBase()}/oidc`] : config.trustedOidcIssuers),
    audience: config.oidcAudience,
    clock,
  });
  const tuf = new TufRepository({ dataDir: config.dataDir, db, clock, settings: config.tuf, warn: (message) => log.warn(message) });
  return {
    config,
    db,
    dialect: opened.dialect,
    blobs,
    index,
    tokens,
    uploads,
    simplePages,
    views,
    feeds: new FeedService(views),
    verifier,
    pendingProvenance,
    oidcExchange,
    tuf,
    filesWithProvenance,
    urls,
    listenAddress,
    devTrust,
    devTrustBaseUrl: () => (devTrust ? devTrustBase() : null),
    metrics: new IndexMetrics(async () => {
      const [counts, attestations, pendingCount] = await Promise.all([index.counts(), index.attestationCount(), pendingProvenance.countPending()]);
      return { projects: counts.projects, files: counts.files, attestations, pendingProvenance: pendingCount };
    }),
    clock,
    close: async () => {
      await opened.close();
      await blobs.close();
    },
  };
}
