import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { ServerConfig } from '../config.ts';
import { IndexService } from './index-service.ts';
import { indexUrls, SimplePageService, type IndexUrls } from './simple-pages.ts';
import { FileSystemBlobStore } from './storage/blob-store.ts';
import { openDatabase } from './storage/database.ts';
import type { DialectName } from './storage/migrations.ts';
import type { Database } from './storage/schema.ts';
import { UploadService } from './upload.ts';

/** The index's services wired to one database and one blob store; what `serve` and `admin` share. */
export interface CairnServices {
  config: ServerConfig;
  db: Kysely<Database>;
  dialect: DialectName;
  blobs: FileSystemBlobStore;
  index: IndexService;
  uploads: UploadService;
  simplePages: SimplePageService;
  urls: IndexUrls;
  clock: () => Date;
  close(): Promise<void>;
}

export async function openServices(config: ServerConfig, clock: () => Date = () => new Date()): Promise<CairnServices> {
  const opened = await openDatabase(config.databaseUrl);
  const blobs = new FileSystemBlobStore(join(config.dataDir));
  const index = new IndexService(opened.db);
  const uploads = new UploadService(opened.db, blobs, clock);
  const urls = indexUrls(config.baseUrl);
  return {
    config,
    db: opened.db,
    dialect: opened.dialect,
    blobs,
    index,
    uploads,
    simplePages: new SimplePageService(index, urls),
    urls,
    clock,
    close: () => opened.close(),
  };
}
