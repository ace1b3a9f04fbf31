import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { loadServerConfig } from '../../src/server/config.ts';

/** The settings of object storage, cache purging and recovery: parsed as documented, refused precisely. */
const load = (env: NodeJS.ProcessEnv) => loadServerConfig({ dataDir: '/srv/cairn' }, env);
const refused = (env: NodeJS.ProcessEnv, message: RegExp) =>
  assert.throws(() => load(env), (e: unknown) => isCairnError(e) && e.code === 'config.invalid' && message.test(e.message));

describe('scale-out settings', () => {
  test('CAIRN_BLOB_STORE=s3://bucket/prefix with an endpoint: path-style, region from AWS_REGION, spool in the data directory', () => {
    const config = load({ CAIRN_BLOB_STORE: 's3://pkgs.example/prod/index/', CAIRN_S3_ENDPOINT: 'http://rgw.internal:8080/', AWS_REGION: 'eu-west-1' });
    assert.deepEqual(config.blobStore, {
      kind: 's3',
      bucket: 'pkgs.example',
      prefix: 'prod/index/',
      endpoint: 'http://rgw.internal:8080',
      region: 'eu-west-1',
      forcePathStyle: true,
      spoolDir: '/srv/cairn/tmp',
      downloads: { mode: 'stream' },
    });
    assert.deepEqual(load({}).blobStore, { kind: 'filesystem' });
    const aws = load({ CAIRN_BLOB_STORE: 's3://pkgs', CAIRN_S3_DOWNLOADS: 'redirect', CAIRN_S3_PRESIGN_SECONDS: '60' }).blobStore;
    assert.equal(aws.kind === 's3' && aws.forcePathStyle, false, 'virtual-hosted style on AWS itself');
    assert.deepEqual(aws.kind === 's3' && aws.downloads, { mode: 'redirect', expiresSeconds: 60 });
  });

  test('bad object storage settings are refused, naming the variable', () => {
    refused({ CAIRN_BLOB_STORE: 'gs://bucket' }, /CAIRN_BLOB_STORE must be 'filesystem' or s3:\/\/BUCKET\/PREFIX/);
    refused({ CAIRN_BLOB_STORE: 's3://Bad_Bucket' }, /CAIRN_BLOB_STORE/);
    refused({ CAIRN_BLOB_STORE: 's3://pkgs', CAIRN_S3_ENDPOINT: 'rgw.internal:8080' }, /CAIRN_S3_ENDPOINT must be an http\(s\) URL/);
    refused({ CAIRN_BLOB_STORE: 's3://pkgs', CAIRN_S3_DOWNLOADS: 'proxy' }, /CAIRN_S3_DOWNLOADS must be 'stream' or 'redirect'/);
    refused({ CAIRN_BLOB_STORE: 's3://pkgs', CAIRN_S3_DOWNLOADS: 'redirect', CAIRN_S3_PRESIGN_SECONDS: '0' }, /CAIRN_S3_PRESIGN_SECONDS/);
  });

  test('purge URL templates and method; recovery grace by engine', () => {
    assert.deepEqual(load({ CAIRN_PURGE_URL: 'http://cache/simple/{project}/, http://cache/simple/' }).purge, {
      urlTemplates: ['http://cache/simple/{project}/', 'http://cache/simple/'],
      method: 'PURGE',
    });
    assert.equal(load({}).purge, null);
    refused({ CAIRN_PURGE_URL: 'http://cache/{project}/', CAIRN_PURGE_METHOD: 'purge' }, /CAIRN_PURGE_METHOD must be an HTTP method in capitals/);
    assert.equal(load({}).recoveryGraceSeconds, 0);
    assert.equal(load({ CAIRN_DATABASE_URL: 'postgres://cairn@db/cairn' }).recoveryGraceSeconds, 900);
    refused({ CAIRN_RECOVERY_GRACE_SECONDS: 'soon' }, /CAIRN_RECOVERY_GRACE_SECONDS/);
    assert.equal(load({ CAIRN_TUF_KEYS_DIR: '/run/secrets/tuf' }).tuf.keysDir, '/run/secrets/tuf');
  });
});
