import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CairnError, isCairnError } from '../../errors.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../formats/provenance-object.ts';
import { requireSimpleFormat, type SimpleFormat } from '../../formats/simple-api.ts';
import { renderProxyIndex, renderProxyProjectPage } from './proxy-pages.ts';
import { readVerificationSummary, VSA_SUFFIX } from './vsa-files.ts';
import { proxyViewJson } from './view-json.ts';
import type { VerifyingProxy } from './verifying-proxy.ts';
import { proxyNotFoundPage, proxyOverviewPage, proxyProjectPage, type ProxyPageContext } from './proxy-page.ts';
import { cairnErrorHandling, sendError } from '../../http/errors.ts';
import { paramsSchema, PROJECT_NAME_PARAM, SHA256_PARAM } from '../../http/param-schemas.ts';
import { publicBaseUrl } from '../../http/public-url.ts';

/**
 * The HTTP face of `cairn proxy` (a separate, small app from the index's): the simple API for
 * installers, pass-through downloads, and pages that say which files were hidden and why.
 * Routes parse, call the proxy service, answer.
 */

export interface ProxyAppOptions {
  logger?: boolean;
  /** The proxy's public URL for the commands on its pages; default: from each request's Host. */
  baseUrl?: string;
  /** Where `cairn verify --vsa` wrote Verification Summary Attestations, served beside the files. */
  vsaDir?: string;
}

function chooseFormat(accept: string | undefined, query: unknown): SimpleFormat {
  return requireSimpleFormat(accept, (query as { format?: string }).format);
}

/** `null` when the name is already in PEP 503 form; else where to redirect. (The route's schema refused names that cannot be projects.) */
function canonicalName(name: string): string | null {
  const normalized = normalizeProjectName(name);
  return normalized === name ? null : normalized;
}

function queryString(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i >= 0 ? request.url.slice(i) : '';
}

function wantsJson(request: FastifyRequest): boolean {
  const format = (request.query as { format?: string }).format;
  if (format !== undefined) return format === 'json';
  const accept = request.headers.accept ?? '';
  return /application\/json/.test(accept) && !/text\/html/.test(accept);
}

/** Resolves true when the response can take more, false when the client went away. */
function drained(raw: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      raw.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      raw.off('drain', onDrain);
      resolve(false);
    };
    raw.once('drain', onDrain);
    raw.once('close', onClose);
  });
}

export async function buildProxyApp(proxy: VerifyingProxy, options: ProxyAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    // Large downloads from a slow upstream must not be cut by the server's own timeout.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
  });
  await app.register(cairnErrorHandling);

  // A name that can never be a project is refused before the upstream is asked about it.
  const projectParams = { params: paramsSchema({ project: PROJECT_NAME_PARAM }) };
  const context = (request: FastifyRequest): ProxyPageContext => ({
    baseUrl: publicBaseUrl(request, options.baseUrl),
    upstream: proxy.upstream,
    policySource: proxy.policy.source,
  });

  app.get('/', async (request, reply) =>
    reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(proxyOverviewPage(context(request), proxy.projectsSeen(), proxy.hiddenFiles())),
  );

  app.get('/_/hidden', async (_request, reply) => reply.header('Cache-Control', 'no-cache').send({ upstream: proxy.upstream, policy: proxy.policy.source, hidden: proxy.hiddenFiles() }));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/simple', async (_request, reply) => reply.redirect('/simple/', 301));

  app.get('/simple/', async (request, reply) => {
    const format = chooseFormat(request.headers.accept, request.query);
    return reply.header('Vary', 'Accept').type(format).send(renderProxyIndex(proxy.projectsSeen(), format));
  });

  app.get<{ Params: { project: string } }>('/simple/:project', async (request, reply) =>
    reply.redirect(`/simple/${encodeURIComponent(request.params.project)}/${queryString(request)}`, 301),
  );

  app.get<{ Params: { project: string } }>('/simple/:project/', { schema: projectParams, config: { invalidInput: 'project.not_found' } }, async (request, reply) => {
    const format = chooseFormat(request.headers.accept, request.query);
    const canonical = canonicalName(request.params.project);
    if (canonical !== null) return reply.redirect(`/simple/${canonical}/${queryString(request)}`, 301);
    const view = await proxy.projectView(request.params.project);
    const hidden = view.files.filter((f) => f.status === 'hidden').length;
    // Verdicts change when the policy or the upstream does; installers must not keep a stale page.
    reply.header('Vary', 'Accept').header('Cache-Control', 'no-cache').header('X-Cairn-Proxy-Hidden', String(hidden));
    if (hidden > 0) reply.header('Link', `</project/${view.project}/>; rel="describedby"`);
    return reply.type(format).send(renderProxyProjectPage(view, format));
  });

  app.get<{ Params: { project: string } }>('/project/:project', async (request, reply) =>
    reply.redirect(`/project/${encodeURIComponent(request.params.project)}/${queryString(request)}`, 301),
  );

  app.get<{ Params: { project: string } }>(
    '/project/:project/',
    {
      schema: projectParams,
      config: { invalidInput: 'project.not_found' },
      // A reader who followed a link gets a page; a script that asked for JSON gets the JSON error.
      errorHandler: (error, request, reply) => {
        if (!wantsJson(request) && isCairnError(error) && error.code === 'project.not_found') {
          return reply.code(404).type('text/html; charset=utf-8').send(proxyNotFoundPage(context(request), error.message));
        }
        return sendError(request, reply, error);
      },
    },
    async (request, reply) => {
      const canonical = canonicalName(request.params.project);
      if (canonical !== null) return reply.redirect(`/project/${canonical}/${queryString(request)}`, 301);
      const view = await proxy.projectView(request.params.project);
      reply.header('Cache-Control', 'no-cache');
      if (wantsJson(request)) return reply.send(proxyViewJson(view, proxy.policy.source));
      return reply.type('text/html; charset=utf-8').send(proxyProjectPage(context(request), view));
    },
  );

  app.get<{ Params: { project: string; version: string; filename: string } }>(
    '/integrity/:project/:version/:filename/provenance',
    { schema: projectParams, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const text = await proxy.provenanceText(request.params.project, request.params.filename);
      if (text === null) throw new CairnError('file.not_found', `the upstream has no provenance for ${request.params.filename}`);
      return reply.type(INTEGRITY_MEDIA_TYPE).send(text);
    },
  );

  app.route<{ Params: { project: string; sha256: string; filename: string } }>({
    method: 'GET',
    url: '/files/:project/:sha256/:filename',
    // A HEAD would start an upstream download for nothing.
    exposeHeadRoute: false,
    // The filename stays unchecked: the upstream names its files, and one the proxy hides must
    // still be answered with why (proxy.file_hidden), not as absent.
    schema: { params: paramsSchema({ project: PROJECT_NAME_PARAM, sha256: SHA256_PARAM }) },
    config: { invalidInput: { '*': 'file.not_found', project: 'project.not_found' } },
    handler: async (request, reply: FastifyReply) => {
      const { project, sha256, filename } = request.params;
      if (filename.endsWith(VSA_SUFFIX) && options.vsaDir) {
        const distribution = filename.slice(0, -VSA_SUFFIX.length);
        const summary = readVerificationSummary(options.vsaDir, distribution, sha256);
        if (summary === null) throw new CairnError('file.not_found', `no verification summary for ${distribution} with sha256 ${sha256} in the proxy's VSA directory`);
        return reply.type('application/vnd.dev.sigstore.bundle.v0.3+json').header('Cache-Control', 'no-cache').send(summary);
      }
      const download = await proxy.openDownload(project, sha256, filename);
      reply.hijack();
      const raw = reply.raw;
      const headers: Record<string, string | number> = {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"`,
        'Cache-Control': 'no-cache',
        ETag: `"${sha256}"`,
        'X-Cairn-Proxy-From': download.from,
      };
      // No Content-Length, on purpose: with chunked transfer a cut connection lacks the final
      // chunk, which every HTTP client reports as an error; a short body under a Content-Length is
      // taken as complete by lenient clients (urllib3 1.26, vendored by pip, does not enforce it).
      if (download.size !== null) headers['X-Cairn-Proxy-Size'] = download.size;
      raw.writeHead(200, headers);
      // Headers go out now: the client learns the download started even while the first (held
      // back) chunk waits for the digest, and a cut then reads as a broken body, not a refused request.
      raw.flushHeaders();
      let clientGone = false;
      try {
        for await (const chunk of download.chunks) {
          if (raw.destroyed || (!raw.write(chunk) && !(await drained(raw)))) {
            clientGone = true;
            break;
          }
        }
      } catch (error) {
        request.log.warn({ err: error, filename }, 'download aborted');
        // Cutting the connection is the only way to tell the client mid-body: it sees a broken
        // download (short of Content-Length, or no final chunk), never a complete wrong file.
        raw.destroy();
        return;
      }
      if (!clientGone) raw.end();
    },
  });

  return app;
}

export interface RunningProxy {
  url: string;
  app: FastifyInstance;
  proxy: VerifyingProxy;
  close(): Promise<void>;
}

/** Listens (port 0 picks a free port) and answers the URL the proxy is reachable at. */
export async function startProxyServer(proxy: VerifyingProxy, options: ProxyAppOptions & { host?: string; port?: number } = {}): Promise<RunningProxy> {
  const app = await buildProxyApp(proxy, options);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 8472 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = options.baseUrl?.replace(/\/+$/, '') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, app, proxy, close: () => app.close() };
}
