import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openDevTrustDomain, type DevTrustDomain } from '../devtrust/domain.ts';
import { TokenService } from './auth/tokens.ts';
import { BulkImportService } from './catalogue/bulk-import.ts';
import { IndexService } from './catalogue/index-service.ts';
import type { ServerConfig } from './config.ts';
import { IndexMetrics } from './metrics.ts';
import { CatalogueViews } from './pages/catalogue-views.ts';
import { FeedService } from './pages/feeds.ts';
import { indexUrls, type IndexUrls } from './pages/index-urls.ts';
import { CachePurge } from './pages/cache-purge.ts';
import { CatalogueChanges } from './pages/catalogue-changes.ts';
import { PageRenderer } from './pages/page-renderer.ts';
import { PageStore } from './pages/page-store.ts';
import { AttestationStore } from './provenance/attestation-store.ts';
import { IndexVerifier } from './provenance/index-verifier.ts';
import { DEFAULT_PENDING_LIMITS, PendingProvenanceService } from './provenance/pending-provenance.ts';
import { formAttestationsVerifier, uploadAttestationsPrecheck } from './provenance/upload-attestations.ts';
import { PublishingSessionService } from './publishing-sessions/publishing-sessions.ts';
import { StageIndex } from './publishing-sessions/stage-index.ts';
import { OidcExchangeService } from './publishing/oidc-exchange.ts';
import { TrustedPublisherService } from './publishing/trusted-publishers.ts';
import { IndexHealth } from './health.ts';
import { ListenAddress } from './listen-address.ts';
import { openBlobStore, type BlobStore } from './storage/blob-store.ts';
import { openDatabase } from './storage/database.ts';
import type { DialectName } from './storage/migrations.ts';
import type { Database } from './storage/schema.ts';
import { BackgroundTuf } from './tuf/background-tuf.ts';
import { TufRepository, type TufRefreshOutcome, type TufService } from './tuf/tuf-repository.ts';
import { TufTargets } from './tuf/tuf-targets.ts';
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
  /** `cairn admin import`: directories of distributions loaded in batches, each file checked as an upload. */
  imports: BulkImportService;
  /** Pages rendered on write (simple pages, JSON API, the `/simple/` root), read through a cache. */
  pages: PageStore;
  /** Where every change to a project re-renders its pages, inside the change's transaction. */
  changes: CatalogueChanges;
  /** The reads behind the web UI and the JSON API's provenance states. */
  views: CatalogueViews;
  feeds: FeedService;
  /** Verifies attestations against the index's trusted roots (public-good, operator's, dev trust). */
  verifier: IndexVerifier;
  pendingProvenance: PendingProvenanceService;
  oidcExchange: OidcExchangeService;
  /** TUF metadata (PEP 458): signed on a worker thread under `serve`, inline in admin commands. */
  tuf: TufService;
  tufTargets: TufTargets;
  /** Trusted Publishing: which CI identities may publish which projects. */
  publishers: TrustedPublisherService;
  /** Publishing sessions (PEP 694 draft): staged files made public together, or never. */
  sessions: PublishingSessionService;
  /** A session's stage preview: the simple index pip installs staged files from. */
  stageIndex: StageIndex;
  /** Attestations bound to files: the integrity API, and which files carry provenance (simple and JSON APIs). */
  attestations: AttestationStore;
  urls: IndexUrls;
  /** The URL the index is reached at: the configured base URL, else the listening address. */
  listenAddress: ListenAddress;
  /** The dev trust domain (`serve --dev-trust`), else null. */
  devTrust: DevTrustDomain | null;
  /** Its BASE URL, else null. */
  devTrustBaseUrl(): string | null;
  metrics: IndexMetrics;
  /** Whether the database and the blob store answer (`/healthz`). */
  health: IndexHealth;
  clock: () => Date;
  close(): Promise<void>;
}

export interface ComposeOptions {
  clock?: () => Date;
  log?: ServiceLog;
  /**
   * Sign TUF metadata on a worker thread and soon after every change (`cairn serve`). Off for
   * admin commands, and when a test's clock must reach the signer.
   */
  backgroundTuf?: boolean;
}

/**
 * The configured blob store, checked before anything else opens: an unreachable endpoint, refused
 * credentials or a missing bucket stop `serve` at once with a message naming them.
 */
async function openConfiguredBlobStore(config: ServerConfig): Promise<BlobStore> {
  const blobs = await openBlobStore(config.blobStore.kind === 'filesystem' ? { kind: 'filesystem', root: config.dataDir } : config.blobStore);
  try {
    await blobs.verify();
  } catch (error) {
    await blobs.close();
    throw error;
  }
  return blobs;
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

  const blobs = await openConfiguredBlobStore(config);
  const opened = await openDatabase(config.databaseUrl, { postgresTimeouts: config.postgresTimeouts }).catch(async (error: unknown) => {
    await blobs.close();
    throw error;
  });
  const db = opened.db;
  const urls = indexUrls(config.baseUrl);
  const attestations = new AttestationStore(db);
  const tufTargets = new TufTargets(db);
  // The gauges are read at each scrape, from services built below.
  const metrics = new IndexMetrics(async () => {
    const [counts, pendingCount, sessionCount] = await Promise.all([index.counts(), pendingProvenance.countPending(), sessions.countPending()]);
    return { projects: counts.projects, files: counts.files, attestations: counts.attestations, pendingProvenance: pendingCount, publishingSessions: sessionCount, pageCacheBytes: pages.stats().bytes };
  });
  const onRefreshed = (outcome: TufRefreshOutcome) => metrics.tufRefreshDuration.observe({ published: String(outcome.written.length > 0) }, outcome.seconds);
  const tufInline = new TufRepository({ dataDir: config.dataDir, db, clock, settings: config.tuf, warn: (message) => log.warn(message), onRefreshed });
  // An in-memory SQLite database cannot be opened by a second connection (the worker's).
  const inMemory = config.databaseUrl === 'sqlite::memory:' || config.databaseUrl === ':memory:';
  const tuf: TufService =
    options.backgroundTuf && !inMemory
      ? new BackgroundTuf(tufInline, { databaseUrl: config.databaseUrl, postgresTimeouts: config.postgresTimeouts, dataDir: config.dataDir, settings: config.tuf, warn: (message) => log.warn(message), onRefreshed })
      : tufInline;
  const pages = new PageStore(db, { cacheBytes: config.pageCacheBytes, pollMs: config.pagePollMs }, opened.readPage);
  const purge = config.purge ? new CachePurge({ ...config.purge, warn: (message) => log.warn(message) }) : null;
  const changes = new CatalogueChanges(
    db,
    new PageRenderer(urls, opened.dialect, clock),
    pages,
    clock,
    config.baseUrl,
    [attestations, tufTargets],
    () => tuf.changed(),
    (changed) => purge?.changed(changed),
  );
  const index = new IndexService(db, changes);
  const tokens = new TokenService(db);
  const publishers = new TrustedPublisherService(db);
  const views = new CatalogueViews(db, urls);
  const pendingProvenance = new PendingProvenanceService(
    db,
    attestations,
    verifier.verifyReceived,
    clock,
    {
      ...DEFAULT_PENDING_LIMITS,
      ttlSeconds: config.pendingProvenanceTtlSeconds,
      maxPerSigner: config.pendingMaxPerSigner,
      maxPerFile: config.pendingMaxPerFile,
      maxPerSignerPerFile: config.pendingMaxPerSignerPerFile,
    },
    changes,
    (trx, projectId, facts) => publishers.projectVouches(trx, projectId, facts),
  );
  const publisherOf = (p: Parameters<TrustedPublisherService['publisherForPrincipal']>[0]) => publishers.publisherForPrincipal(p);
  const sessions = new PublishingSessionService({
    db,
    blobs,
    tokens,
    changes,
    attestations,
    pending: pendingProvenance,
    verifyFormAttestations: formAttestationsVerifier(verifier.verifyReceived, pendingProvenance, publisherOf),
    clock,
    ttlSeconds: config.sessionTtlSeconds,
    releaseCloseDays: config.releaseCloseDays,
  });
  const uploads = new UploadService({
    db,
    blobs,
    tokens,
    clock,
    // The sessions' check runs last: its hook reads the attestations the first one bound.
    prechecks: [uploadAttestationsPrecheck(verifier.verifyReceived, attestations, pendingProvenance, publisherOf, clock), sessions.legacyUploadPrecheck()],
    changes,
    releaseCloseDays: config.releaseCloseDays,
  });
  const oidcExchange = new OidcExchangeService({
    db,
    tokens,
    publishers,
    changes,
    issuers: () => (devTrust ? [...config.trustedOidcIssuers, `${devTrustBase()}/oidc`] : config.trustedOidcIssuers),
    audience: config.oidcAudience,
    clock,
    singleUseOnly: config.publishingSingleUse,
  });
  return {
    config,
    db,
    dialect: opened.dialect,
    blobs,
    index,
    tokens,
    uploads,
    imports: new BulkImportService({ db, dialect: opened.dialect, blobs, changes, uploads, clock, maxUploadBytes: config.maxUploadBytes }),
    pages,
    changes,
    views,
    feeds: new FeedService(views),
    verifier,
    pendingProvenance,
    oidcExchange,
    tuf,
    tufTargets,
    publishers,
    sessions,
    stageIndex: new StageIndex(db, sessions, urls, config.baseUrl),
    attestations,
    urls,
    listenAddress,
    devTrust,
    devTrustBaseUrl: () => (devTrust ? devTrustBase() : null),
    metrics,
    health: new IndexHealth(db, blobs),
    clock,
    close: async () => {
      pages.stopPolling();
      await purge?.settle();
      await tuf.close();
      await opened.close();
      await blobs.close();
    },
  };
}
