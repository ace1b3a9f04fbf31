import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerConfig, type ServerConfig } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/http/server.ts';
import type { TokenScope } from '../../src/server/auth/tokens.ts';
import { createTestDatabase, postgresAvailable } from './postgres.ts';
import { skipUnless } from './requirements.ts';

export type Engine = 'sqlite' | 'postgres';

/** The engines the integration suite runs against; PostgreSQL is required under CAIRN_REQUIRE_ALL. */
export async function testEngines(): Promise<{ engine: Engine; skip: string | false }[]> {
  const pgUp = await postgresAvailable();
  return [
    { engine: 'sqlite', skip: false },
    { engine: 'postgres', skip: skipUnless(pgUp, 'PostgreSQL at 127.0.0.1:5432') },
  ];
}

export interface TestServer extends RunningServer {
  dataDir: string;
  engine: Engine;
  config: ServerConfig;
  token(scope: TokenScope, projects?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestServer(engine: Engine, overrides: Partial<ServerConfig> = {}, options: { clock?: () => Date } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-test-'));
  const database = engine === 'postgres' ? await createTestDatabase() : null;
  const config: ServerConfig = {
    ...loadServerConfig({ dataDir, port: 0, databaseUrl: database?.url }, {}),
    ...overrides,
  };
  const server = await startServer(config, options);
  return {
    ...server,
    dataDir,
    engine,
    config,
    token: async (scope, projects = []) =>
      (await server.services.tokens.create({ scope, projects, now: new Date() })).token,
    stop: async () => {
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function basicAuth(token: string): string {
  return `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;
}
