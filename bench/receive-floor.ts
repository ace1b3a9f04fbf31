import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBLAKE2b } from 'hash-wasm';

/**
 * The upload benchmark's floor: a bare node:http server that receives a request body and does only
 * the work named by `argv[2]` with it (no multipart parsing, no validation, no database), so the
 * report shows what loopback HTTP alone costs next to cairn's upload.
 *   sha256   sha256 + write + fsync (the goal's baseline, behind HTTP)
 *   digests  sha256 + md5 + blake2b-256 + write + fsync (what a PyPI-compatible index must compute)
 */
const mode = process.argv[2];
if (mode !== 'sha256' && mode !== 'digests') throw new Error('mode: sha256 | digests');
const dir = mkdtempSync(join(tmpdir(), 'cairn-floor-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGTERM', () => process.exit(0));

let n = 0;
const server = createServer(async (request, response) => {
  const sha256 = createHash('sha256');
  const md5 = mode === 'digests' ? createHash('md5') : null;
  const blake = mode === 'digests' ? await createBLAKE2b(256) : null;
  const path = join(dir, `body-${n++}`);
  const fd = openSync(path, 'w');
  for await (const chunk of request as AsyncIterable<Buffer>) {
    sha256.update(chunk);
    md5?.update(chunk);
    blake?.update(chunk);
    writeSync(fd, chunk);
  }
  fsyncSync(fd);
  closeSync(fd);
  rmSync(path);
  response.end(JSON.stringify({ sha256: sha256.digest('hex'), md5: md5?.digest('hex'), blake2b256: blake?.digest('hex') }));
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as { port: number }).port}`));
