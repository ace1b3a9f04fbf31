import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { registerDevTrust } from '../../devtrust/routes.ts';
import type { CairnServices } from '../composition.ts';

export const DEV_TRUST_PREFIX = '/_/dev';

/**
 * `cairn serve --dev-trust`: the dev trust domain inside the index, with its state under the data
 * directory. The index then trusts the domain's root for provenance and its issuer for Trusted
 * Publishing — both only once the URL is known, as the root names it.
 */
export async function mountDevTrust(app: FastifyInstance, services: CairnServices, indexUrl: () => string): Promise<void> {
  const baseUrl = () => `${indexUrl().replace(/\/+$/, '')}${DEV_TRUST_PREFIX}`;
  const domain = await registerDevTrust(app, { prefix: DEV_TRUST_PREFIX, baseUrl, stateDir: join(services.config.dataDir, 'dev-trust') });
  services.verifier.addRoot(() => domain.trustedRoot());
  services.devTrustBaseUrl = baseUrl;
  app.addHook('onListen', async () => {
    const issuer = `${baseUrl()}/oidc`;
    if (!services.config.trustedOidcIssuers.includes(issuer)) services.config.trustedOidcIssuers.push(issuer);
  });
}
