import type { FastifyInstance } from 'fastify';
import { registerDevTrustRoutes } from '../../devtrust/routes.ts';
import { DEV_TRUST_PREFIX, type CairnServices } from '../composition.ts';

export { DEV_TRUST_PREFIX };

/**
 * `cairn serve --dev-trust`: the routes of the dev trust domain the composition root opened, at
 * `/_/dev`. The index already trusts its root and issuer (see openServices).
 */
export async function devTrustRoutes(app: FastifyInstance, options: { services: CairnServices }): Promise<void> {
  const { devTrust } = options.services;
  if (devTrust) registerDevTrustRoutes(app, devTrust, DEV_TRUST_PREFIX);
}
