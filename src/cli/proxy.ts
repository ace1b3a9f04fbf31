import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { startProxyServer } from '../client/proxy/proxy-app.ts';
import { loadPolicy } from '../client/load-policy.ts';
import { DEFAULT_UPSTREAM_LIMITS, formatProxyEvent, VerifyingProxy, type ProxyEvent } from '../client/proxy/index.ts';
import { defaultCacheDir, loadExtraRoots, VerifyCache } from '../client/verify/index.ts';
import { listenFailure } from './listen-errors.ts';
import { policyPath } from './policy.ts';

interface ProxyFlags {
  upstream?: string;
  policy?: string;
  host: string;
  port: string;
  trustedRoot: string[];
  devTrust?: string;
  cacheDir?: string;
  cacheTtl: string;
  history: string;
  jobs: string;
  upstreamTimeout: string;
  maxFilesPerPage: string;
  baseUrl?: string;
  vsaDir?: string;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function integerFlag(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CairnError('usage.invalid_argument', `${flag} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

function upstreamUrl(given: string | undefined): string {
  const upstream = given ?? process.env.CAIRN_PROXY_UPSTREAM;
  if (!upstream) throw new CairnError('usage.invalid_argument', 'no upstream: give --upstream URL (e.g. https://pypi.org or a cairn index)');
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw new CairnError('usage.invalid_argument', `--upstream ${upstream} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CairnError('usage.invalid_argument', `--upstream must be an http(s) URL, got ${upstream}`);
  return upstream;
}

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('a local PEP 503/691 index for pip/uv that lists only files whose provenance passes your policy (default http://127.0.0.1:8472/simple/)')
    .option('--upstream <url>', 'the index to proxy: any PEP 691 index with the PEP 740 integrity API (cairn, https://pypi.org) (env CAIRN_PROXY_UPSTREAM)')
    .option('--policy <file>', 'the trust policy (env CAIRN_POLICY; default ./cairn-policy.toml)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8472')
    .option('--trusted-root <file|url>', 'an extra Sigstore trusted_root.json (repeatable; the public-good root is always trusted)', collect, [])
    .option('--dev-trust <base>', 'also trust the dev trust domain at BASE (its BASE/trusted_root.json)')
    .option('--cache-dir <dir>', 'cache for upstream pages, provenance, roots and verified files (env CAIRN_CACHE_DIR)')
    .option('--cache-ttl <seconds>', 'how long verdicts, upstream pages and provenance stay fresh', '300')
    .option('--history <n>', 'earlier releases compared for identity continuity (0: off)', '1')
    .option('--jobs <n>', 'concurrent upstream requests per project', '8')
    .option('--upstream-timeout <seconds>', 'deadline of each upstream page or provenance read; a download is cut after this long without bytes (x2)', '30')
    .option('--max-files-per-page <n>', 'an upstream page listing more files is refused (502 proxy.upstream_error)', String(DEFAULT_UPSTREAM_LIMITS.maxFilesPerPage))
    .option('--base-url <url>', 'the proxy\'s public URL, for the commands and links on its pages')
    .option('--vsa-dir <dir>', 'serve the Verification Summary Attestations `cairn verify --vsa DIR` wrote, at each file URL + .vsa.sigstore.json')
    .option('--quiet', 'log only hidden files, aborted downloads and upstream errors')
    .action(async (flags: ProxyFlags) => {
      const upstream = upstreamUrl(flags.upstream);
      const policy = loadPolicy(policyPath(flags.policy), { as: 'path' });
      const port = integerFlag(flags.port, '--port', 0, 65535);
      const cacheDir = flags.cacheDir ?? defaultCacheDir();
      const envRoots = process.env.CAIRN_TRUSTED_ROOT ? process.env.CAIRN_TRUSTED_ROOT.split(',').filter(Boolean) : [];
      const rootSources = [...envRoots, ...flags.trustedRoot, ...(flags.devTrust ? [`${flags.devTrust.replace(/\/+$/, '')}/trusted_root.json`] : [])];
      const trustedRoots = await loadExtraRoots(rootSources, { cache: new VerifyCache(cacheDir), offline: false });

      let publicUrl = flags.baseUrl ?? `http://${flags.host}:${port}`;
      const log = (event: ProxyEvent) => {
        if (flags.quiet && event.type === 'served') return;
        console.error(formatProxyEvent(event, publicUrl));
      };
      const proxy = new VerifyingProxy({
        upstream,
        policy,
        trustedRoots,
        cacheDir,
        ttlMs: integerFlag(flags.cacheTtl, '--cache-ttl', 0) * 1000,
        history: integerFlag(flags.history, '--history', 0),
        concurrency: integerFlag(flags.jobs, '--jobs', 1),
        limits: {
          timeoutMs: integerFlag(flags.upstreamTimeout, '--upstream-timeout', 1) * 1000,
          downloadIdleMs: integerFlag(flags.upstreamTimeout, '--upstream-timeout', 1) * 2000,
          maxFilesPerPage: integerFlag(flags.maxFilesPerPage, '--max-files-per-page', 1),
        },
        onEvent: log,
      });
      const server = await startProxyServer(proxy, { host: flags.host, port, ...(flags.baseUrl ? { baseUrl: flags.baseUrl } : {}), ...(flags.vsaDir ? { vsaDir: flags.vsaDir } : {}) }).catch((error: unknown) => {
        throw listenFailure(error, { host: flags.host, port, option: '--port' });
      });
      publicUrl = server.url;
      console.log(`cairn proxy listening on ${server.url} (upstream ${proxy.upstream}, policy ${policy.source}, cache ${cacheDir})`);
      console.log(`  pip install --index-url ${server.url}/simple/ NAME    (uv: --index-url / UV_INDEX_URL)`);
      console.log(`  why a file is hidden: ${server.url}/project/NAME/ (and the log lines below)`);
      const stop = () => {
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
