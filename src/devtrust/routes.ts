import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError, errorBody, httpStatusFor, isCairnError } from '../errors.ts';
import { openDevTrustDomain, type DevTrustDomain, type DevTrustDomainOptions } from './domain.ts';
import { DEFAULT_TOKEN_AUDIENCE, tokenRequestFrom } from './oidc-issuer.ts';
import { canonicalizeProposedEntry, canonicalizeV2Request } from './rekor-entries.ts';

export { devTrustRoot } from './trusted-root.ts';
export type { TrustedRootJson } from './trusted-root.ts';
export type { DevTrustDomain } from './domain.ts';

export interface DevTrustRouteOptions extends Omit<DevTrustDomainOptions, 'baseUrl'> {
  /** '' (standalone) or '/_/dev' (inside `cairn serve`). */
  prefix: string;
  /** The absolute BASE URL; a function when the port is known only after listen. */
  baseUrl: string | (() => string);
}

/** Fulcio's challenge audience: tokens for the CA must be minted for `sigstore`. */
const FULCIO_AUDIENCE = DEFAULT_TOKEN_AUDIENCE;
const ENTRY_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Mounts the dev trust domain's OIDC issuer, CA and log under `prefix`, speaking the protocols
 * sigstore-js speaks to the public-good instance, and returns the domain (for its trusted root).
 */
export async function registerDevTrust(app: FastifyInstance, options: DevTrustRouteOptions): Promise<DevTrustDomain> {
  const domain = await openDevTrustDomain(options);
  registerDevTrustRoutes(app, domain, options.prefix);
  return domain;
}

/** The routes of an already opened domain under `prefix` (`cairn serve --dev-trust` opens it at start-up). */
export function registerDevTrustRoutes(app: FastifyInstance, domain: DevTrustDomain, prefixOption: string): void {
  const prefix = prefixOption.replace(/\/+$/, '');
  app.addHook('onListen', async () => domain.recordBaseUrl());

  const route = (handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        domain.recordBaseUrl();
        return await handler(request, reply);
      } catch (error) {
        const failure = isCairnError(error) ? error : new CairnError('internal.error', 'internal server error');
        if (failure.code === 'internal.error') request.log.error({ err: error }, 'dev trust domain failed');
        return reply.code(httpStatusFor(failure.code)).type('application/json').send(errorBody(failure));
      }
    };

  // --- OIDC issuer (BASE/oidc) -------------------------------------------------------------
  app.get(`${prefix}/oidc/.well-known/openid-configuration`, route(async () => domain.oidc.discoveryDocument()));
  app.get(`${prefix}/oidc/jwks`, route(async () => domain.oidc.jwks()));
  // POST with a JSON body, or GET with a query string so the endpoint can stand in for GitHub's
  // ACTIONS_ID_TOKEN_REQUEST_URL (which answers `{value}` and takes `&audience=`).
  const mint = route(async (request) => {
    const input = (request.method === 'GET' ? request.query : request.body) ?? {};
    if (typeof input !== 'object') throw new CairnError('request.malformed', 'the token request must be a JSON object');
    const { token, claims } = await domain.oidc.mint(tokenRequestFrom(input as Record<string, unknown>));
    return { token, value: token, expires_at: new Date(claims.exp * 1000).toISOString() };
  });
  app.post(`${prefix}/oidc/token`, mint);
  app.get(`${prefix}/oidc/token`, mint);

  // --- Fulcio-compatible CA (BASE/fulcio) ---------------------------------------------------
  app.post(
    `${prefix}/fulcio/api/v2/signingCert`,
    route(async (request, reply) => {
      const body = asObject(request.body, 'request body');
      const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      const token = asObject(body.credentials ?? {}, 'credentials').oidcIdentityToken ?? bearer;
      if (typeof token !== 'string' || !token) throw new CairnError('auth.missing', 'credentials.oidcIdentityToken is required');
      if (body.publicKeyRequest === undefined) {
        throw new CairnError('request.malformed', 'only publicKeyRequest is supported (no certificateSigningRequest)');
      }
      const keyRequest = asObject(body.publicKeyRequest, 'publicKeyRequest');
      const publicKey = asObject(keyRequest.publicKey, 'publicKeyRequest.publicKey');
      if (typeof publicKey.content !== 'string' || typeof keyRequest.proofOfPossession !== 'string') {
        throw new CairnError('request.malformed', 'publicKeyRequest needs publicKey.content and proofOfPossession');
      }
      const claims = await domain.oidc.verify(token, FULCIO_AUDIENCE);
      const certificates = await domain.ca.issueSigningCertificate({ claims, publicKey: publicKey.content, proofOfPossession: keyRequest.proofOfPossession });
      return reply.code(201).send({ signedCertificateEmbeddedSct: { chain: { certificates } } });
    }),
  );
  app.get(`${prefix}/fulcio/api/v2/trustBundle`, route(async () => ({ chains: [{ certificates: [domain.ca.certificatePem] }] })));
  app.get(
    `${prefix}/fulcio/api/v2/configuration`,
    route(async () => ({ issuers: [{ issuerUrl: domain.oidc.issuer, audience: FULCIO_AUDIENCE, challengeClaim: 'sub', issuerType: 'github-workflow' }] })),
  );

  // --- Rekor-compatible log (BASE/rekor) -----------------------------------------------------
  const rekor = `${prefix}/rekor/api/v1/log`;
  app.post(
    `${rekor}/entries`,
    { bodyLimit: ENTRY_BODY_LIMIT },
    route(async (request, reply) => {
      const { uuid, entry, created } = domain.log.append(canonicalizeProposedEntry(request.body));
      reply.header('location', `${domain.baseUrl}/rekor/api/v1/log/entries/${uuid}`);
      if (!created) return reply.code(409).send({ code: 409, message: `an equivalent entry already exists in the transparency log with UUID ${uuid}` });
      return reply.code(201).send({ [uuid]: entry });
    }),
  );
  app.get(
    `${rekor}/entries`,
    route(async (request) => {
      const raw = (request.query as Record<string, unknown>).logIndex;
      if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new CairnError('request.malformed', 'logIndex must be a non-negative integer');
      const { uuid, entry } = domain.log.entryAt(Number(raw));
      return { [uuid]: entry };
    }),
  );
  app.get(
    `${rekor}/entries/:uuid`,
    route(async (request) => {
      const { uuid, entry } = domain.log.entryByUuid((request.params as { uuid: string }).uuid);
      return { [uuid]: entry };
    }),
  );
  app.get(rekor, route(async () => domain.log.info()));
  app.get(
    `${rekor}/publicKey`,
    route(async (_request, reply) =>
      reply.type('application/x-pem-file').send(domain.keys.rekor.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
    ),
  );

  // --- Rekor v2-compatible log (BASE/rekor-v2), the rekor-tiles write API ----------------------
  app.post(
    `${prefix}/rekor-v2/api/v2/log/entries`,
    { bodyLimit: ENTRY_BODY_LIMIT },
    route(async (request, reply) => reply.code(201).send(domain.logV2.appendV2(canonicalizeV2Request(request.body)))),
  );

  // --- RFC 3161 timestamp authority (BASE/tsa), Sigstore timestamp-authority's API -------------
  app.post(
    `${prefix}/tsa/api/v1/timestamp`,
    route(async (request, reply) => {
      const body = asObject(request.body, 'request body');
      if (typeof body.artifactHash !== 'string' || typeof body.hashAlgorithm !== 'string') {
        throw new CairnError('request.malformed', 'the timestamp request needs artifactHash (base64) and hashAlgorithm');
      }
      const nonce = typeof body.nonce === 'string' ? body.nonce : undefined;
      const response = domain.tsa.timestamp({ artifactHash: body.artifactHash, hashAlgorithm: body.hashAlgorithm, ...(nonce ? { nonce } : {}) });
      return reply.code(201).type('application/timestamp-reply').send(response);
    }),
  );
  app.get(
    `${prefix}/tsa/api/v1/timestamp/certchain`,
    route(async (_request, reply) => {
      const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
      return reply.type('application/pem-certificate-chain').send(pem(domain.keys.tsa.certificateDer) + pem(domain.keys.tsa.rootCertificateDer));
    }),
  );

  app.get(`${prefix}/trusted_root.json`, route(async () => domain.trustedRoot()));
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CairnError('request.malformed', `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}
