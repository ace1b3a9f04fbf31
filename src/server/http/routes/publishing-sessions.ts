import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError, errorBody, httpStatusFor } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import { LEGACY_HTML, renderIndexHtmlEntry, renderIndexHtmlHead, INDEX_HTML_TAIL, renderProjectHtml, renderProjectJson, requireSimpleFormat, SIMPLE_API_VERSION, SIMPLE_HTML, SIMPLE_JSON } from '../../../formats/simple-api.ts';
import { sendLegacyError } from '../../../http/errors.ts';
import { DIST_FILENAME_PARAM, paramsSchema, PROJECT_NAME_SPELLING_PARAM, SHA256_PARAM } from '../../../http/param-schemas.ts';
import { publicBaseUrl } from '../../../http/public-url.ts';
import type { CairnServices } from '../../composition.ts';
import type { SessionState } from '../../publishing-sessions/publishing-sessions.ts';
import { stagePath } from '../../publishing-sessions/stage-index.ts';
import { readUploadForm } from '../multipart-upload.ts';

/** PEP 694's media type for Upload 2.0 requests and answers. */
export const UPLOAD_V2_JSON = 'application/vnd.pypi.upload.v2+json';
/** Room for the metadata fields twine sends next to the file. */
const FORM_OVERHEAD_BYTES = 8 * 1024 * 1024;
const METADATA_SUFFIX = '.metadata';
/** A stage is private to whoever holds the token: no shared cache may keep it. */
const PRIVATE = 'private, no-store';

const TOKEN_PARAM = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;

const CREATE_BODY = {
  type: 'object',
  required: ['name', 'version'],
  properties: {
    meta: { type: 'object', properties: { 'api-version': { type: 'string', const: '2.0' } } },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    version: { type: 'string', minLength: 1, maxLength: 200 },
    nonce: { type: 'string', maxLength: 200 },
    'require-provenance': { type: 'string', enum: ['build'] },
    files: { type: 'array', maxItems: 500, items: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

interface CreateBody {
  name: string;
  version: string;
  'require-provenance'?: 'build';
  files?: string[];
}

/** The PEP 694 session body (response of create, status, publish and cancel), with cairn's additions. */
function sessionBody(state: SessionState, base: string): Record<string, unknown> {
  const session = `${base}/_/sessions/${state.token}`;
  return {
    meta: { 'api-version': '2.0' },
    links: {
      session,
      stage: `${base}${stagePath(state.token)}/simple/`,
      upload: `${session}/legacy/`,
      publish: `${session}/publish`,
    },
    // The legacy form posted to `links.upload` (twine-compatible); PEP 694's byte mechanism is not offered.
    mechanisms: ['legacy-form'],
    'session-token': state.token,
    'expires-at': state.expiresAt,
    status: state.status,
    project: state.project,
    version: state.version,
    'require-provenance': state.requireProvenance,
    'expected-files': state.expectedFiles,
    files: Object.fromEntries(
      state.files.map((f) => [
        f.filename,
        { status: 'complete', sha256: f.sha256, size: f.size, 'uploaded-at': f.uploadedAt, 'build-provenance': f.buildProvenance, 'publish-attestation': f.publishAttestation },
      ]),
    ),
    missing: state.missing,
    notices: [],
  };
}

/**
 * Publishing sessions (PEP 694 draft, docs/staged-publishing.md). Every request but the stage's
 * reads carries the upload credentials (API token or trusted-publishing token), checked anew
 * each time; the stage is granted by the unguessable session token alone, as the PEP allows.
 */
export async function publishingSessionRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  app.addContentTypeParser(UPLOAD_V2_JSON, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  const principalOf = (request: FastifyRequest) => services.tokens.authenticateUpload(request.headers.authorization, services.clock());
  const base = (request: FastifyRequest) => publicBaseUrl(request, services.config.baseUrl);
  const answer = (reply: FastifyReply, request: FastifyRequest, state: SessionState, status = 200) =>
    reply.code(status).type(UPLOAD_V2_JSON).header('Cache-Control', PRIVATE).send(sessionBody(state, base(request)));
  const tokenParams = { schema: { params: paramsSchema({ token: TOKEN_PARAM }) }, config: { invalidInput: 'session.not_found' as const } };

  app.post<{ Body: CreateBody }>(
    '/_/sessions/',
    { schema: { body: CREATE_BODY }, config: { invalidInput: 'session.malformed' } },
    async (request, reply) => {
      const principal = await principalOf(request);
      const body = request.body;
      const { state, existing } = await services.sessions.create(principal, {
        name: body.name,
        version: body.version,
        requireProvenance: body['require-provenance'] ?? null,
        expectedFiles: body.files ?? null,
      });
      const location = `${base(request)}/_/sessions/${state.token}`;
      if (existing) {
        // PEP 694: a second creation for the same release is answered with the pending session.
        const error = new CairnError('session.exists', `a session for ${state.project} ${state.version} is already open: ${location}`, { session: location });
        return reply.code(httpStatusFor(error.code)).header('Location', location).type('application/json').send(errorBody(error));
      }
      return answer(reply.header('Location', location), request, state, 201);
    },
  );

  app.get<{ Params: { token: string } }>('/_/sessions/:token', tokenParams, async (request, reply) =>
    answer(reply, request, await services.sessions.status(await principalOf(request), request.params.token)),
  );

  app.post<{ Params: { token: string } }>('/_/sessions/:token/publish', tokenParams, async (request, reply) =>
    answer(reply, request, await services.sessions.publish(await principalOf(request), request.params.token)),
  );

  app.delete<{ Params: { token: string } }>('/_/sessions/:token', tokenParams, async (request, reply) =>
    answer(reply, request, await services.sessions.cancel(await principalOf(request), request.params.token)),
  );

  // The twine-compatible upload into a session: `twine upload --repository-url <links.upload>`.
  await app.register(async (scope) => {
    scope.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));
    scope.setErrorHandler((error, request, reply) => sendLegacyError(request, reply, error));
    scope.post<{ Params: { token: string } }>('/_/sessions/:token/legacy/', tokenParams, async (request, reply) => {
      const limit = services.config.maxUploadBytes;
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > limit + FORM_OVERHEAD_BYTES) {
        throw new CairnError('upload.too_large', `File too large. Limit is ${limit} bytes`, { limit });
      }
      const principal = await principalOf(request);
      const form = await readUploadForm(request.raw, request.headers, services.blobs, { maxFileBytes: limit, maxFieldBytes: 4 * 1024 * 1024, maxFields: 500 });
      const staged = await services.sessions.stageUpload(principal, request.params.token, form);
      request.log.info({ filename: staged.filename }, 'file staged');
      return reply.code(200).type('application/json').send({ status: 'staged', filename: staged.filename, sha256: staged.sha256, 'build-provenance': staged.buildProvenance });
    });
  });

  // The stage preview: a PEP 503/691 index of the project as it will be once published.
  app.get<{ Params: { token: string }; Querystring: { format?: string } }>('/_/sessions/:token/stage/simple/', tokenParams, async (request, reply) => {
    const format = requireSimpleFormat(request.headers.accept, request.query.format);
    const projects = await services.stageIndex.projects(request.params.token);
    reply.header('Cache-Control', PRIVATE).header('Vary', 'Accept');
    if (format === SIMPLE_JSON) {
      return reply.type(SIMPLE_JSON).send({ meta: { 'api-version': SIMPLE_API_VERSION }, projects: projects.map((p) => ({ name: p.name })) });
    }
    const html = renderIndexHtmlHead() + projects.map((p) => renderIndexHtmlEntry(p.name, p.normalizedName)).join('') + INDEX_HTML_TAIL;
    return reply.type(format === LEGACY_HTML ? 'text/html; charset=utf-8' : SIMPLE_HTML).send(html);
  });

  app.get<{ Params: { token: string; project: string }; Querystring: { format?: string } }>(
    '/_/sessions/:token/stage/simple/:project/',
    { schema: { params: paramsSchema({ token: TOKEN_PARAM, project: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const format = requireSimpleFormat(request.headers.accept, request.query.format);
      const normalized = normalizeProjectName(request.params.project);
      if (normalized !== request.params.project) return reply.redirect(`${stagePath(request.params.token)}/simple/${normalized}/`, 301);
      const project = await services.stageIndex.project(request.params.token, normalized);
      reply.header('Cache-Control', PRIVATE).header('Vary', 'Accept');
      if (format === SIMPLE_JSON) return reply.type(SIMPLE_JSON).send(renderProjectJson(project));
      return reply.type(format === LEGACY_HTML ? 'text/html; charset=utf-8' : SIMPLE_HTML).send(renderProjectHtml(project));
    },
  );

  app.route<{ Params: { token: string; sha256: string; filename: string } }>({
    method: ['GET', 'HEAD'],
    url: '/_/sessions/:token/stage/files/:sha256/:filename',
    exposeHeadRoute: false,
    schema: {
      params: paramsSchema({ token: TOKEN_PARAM, sha256: SHA256_PARAM, filename: { ...DIST_FILENAME_PARAM, maxLength: DIST_FILENAME_PARAM.maxLength + METADATA_SUFFIX.length } }),
    },
    config: { invalidInput: 'file.not_found' },
    handler: async (request, reply) => {
      let { filename } = request.params;
      const wantsMetadata = filename.endsWith(METADATA_SUFFIX);
      if (wantsMetadata) filename = filename.slice(0, -METADATA_SUFFIX.length);
      const file = await services.stageIndex.file(request.params.token, request.params.sha256, filename);
      reply.header('Cache-Control', PRIVATE);
      if (wantsMetadata) return reply.type('text/plain; charset=utf-8').send(file.coreMetadata);
      reply.type('application/octet-stream').header('Content-Length', file.size).header('ETag', `"${file.sha256}"`);
      if (request.method === 'HEAD') return reply.send();
      return reply.send(await services.blobs.read(file.sha256));
    },
  });
}
