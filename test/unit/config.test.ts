import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HTTP_LIMITS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, DEFAULT_RELEASE_CLOSE_DAYS, loadServerConfig } from '../../src/server/config.ts';
import { DEFAULT_POSTGRES_TIMEOUTS } from '../../src/server/storage/postgres-pool.ts';
import { isCairnError } from '../../src/errors.ts';

test('defaults: 127.0.0.1:8470, SQLite under ./data, 100 MiB uploads', () => {
  const config = loadServerConfig({}, {});
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, DEFAULT_PORT);
  assert.match(config.databaseUrl, /^sqlite:.*\/data\/cairn\.sqlite$/);
  assert.equal(config.maxUploadBytes, DEFAULT_MAX_UPLOAD_BYTES);
  assert.equal(config.baseUrl, null);
});

test('flags win over CAIRN_* variables', () => {
  const config = loadServerConfig({ port: '9000' }, { CAIRN_PORT: '9100', CAIRN_HOST: '0.0.0.0', CAIRN_BASE_URL: 'https://pkgs.example/' });
  assert.equal(config.port, 9000);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.baseUrl, 'https://pkgs.example');
});

test('release closing: 14 days by default, 0 turns it off, the flag wins over CAIRN_RELEASE_CLOSE_DAYS', () => {
  assert.equal(loadServerConfig({}, {}).releaseCloseDays, DEFAULT_RELEASE_CLOSE_DAYS);
  assert.equal(DEFAULT_RELEASE_CLOSE_DAYS, 14);
  assert.equal(loadServerConfig({}, { CAIRN_RELEASE_CLOSE_DAYS: '0' }).releaseCloseDays, 0);
  assert.equal(loadServerConfig({ releaseCloseDays: '30' }, { CAIRN_RELEASE_CLOSE_DAYS: '0' }).releaseCloseDays, 30);
});

test('HTTP limits and PostgreSQL timeouts: safe defaults, flags over CAIRN_* variables', () => {
  const defaults = loadServerConfig({}, {});
  assert.deepEqual(defaults.http, DEFAULT_HTTP_LIMITS);
  assert.ok(defaults.http.headersTimeoutMs > 0 && defaults.http.requestTimeoutMs > 0 && defaults.http.minBodyBytesPerSecond > 0);
  assert.deepEqual(defaults.postgresTimeouts, DEFAULT_POSTGRES_TIMEOUTS);
  assert.ok(defaults.postgresTimeouts.statementTimeoutMs > 0);
  const config = loadServerConfig(
    { headersTimeout: '5000', maxConnections: '50', dbStatementTimeout: '2500' },
    { CAIRN_HEADERS_TIMEOUT_MS: '9000', CAIRN_REQUEST_TIMEOUT_MS: '0', CAIRN_KEEPALIVE_TIMEOUT_MS: '1000', CAIRN_MIN_BODY_RATE: '0', CAIRN_DB_CONNECT_TIMEOUT_MS: '3000', CAIRN_DB_KEEPALIVE_MS: '5000' },
  );
  assert.equal(config.http.headersTimeoutMs, 5000);
  assert.equal(config.http.requestTimeoutMs, 0);
  assert.equal(config.http.keepAliveTimeoutMs, 1000);
  assert.equal(config.http.minBodyBytesPerSecond, 0);
  assert.equal(config.http.maxConnections, 50);
  assert.deepEqual(config.postgresTimeouts, { statementTimeoutMs: 2500, connectTimeoutMs: 3000, keepAliveMs: 5000 });
});

const invalid: [string, Parameters<typeof loadServerConfig>[0], NodeJS.ProcessEnv, RegExp][] = [
  ['port out of range', { port: '99999' }, {}, /port must be a whole number from 0 to 65535/],
  ['port not a number', {}, { CAIRN_PORT: 'http' }, /port must be a whole number/],
  ['upload limit zero', { maxUploadBytes: '0' }, {}, /max upload size must be a whole number/],
  ['base URL not http', { baseUrl: 'ftp://x' }, {}, /base URL must be an http\(s\) URL/],
  ['unknown database scheme', { databaseUrl: 'mysql://db/cairn' }, {}, /database URL must be sqlite:PATH or postgres/],
  ['empty sqlite path', {}, { CAIRN_DATABASE_URL: 'sqlite:' }, /database URL must be/],
  ['negative release closing age', {}, { CAIRN_RELEASE_CLOSE_DAYS: '-1' }, /release closing age in days/],
  ['fractional release closing age', { releaseCloseDays: '1.5' }, {}, /release closing age in days/],
  ['headers timeout below 100 ms', { headersTimeout: '10' }, {}, /headers timeout in ms/],
  ['connection cap zero', {}, { CAIRN_MAX_CONNECTIONS: '0' }, /connection cap/],
  ['statement timeout not a number', { dbStatementTimeout: '30s' }, {}, /PostgreSQL statement timeout/],
  ['pending TTL beyond 30 days', {}, { CAIRN_PENDING_TTL_SECONDS: String(31 * 24 * 3600) }, /pending provenance TTL/],
];
for (const [name, flags, env, message] of invalid) {
  test(`refused: ${name}`, () => {
    assert.throws(() => loadServerConfig(flags, env), (error) => isCairnError(error) && error.code === 'config.invalid' && message.test(error.message));
  });
}
