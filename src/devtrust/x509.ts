// @peculiar/x509 2 resolves its ASN.1 services through tsyringe, which needs the Reflect
// metadata polyfill loaded first. reflect-metadata is present today only through
// @sigstore/mock → @peculiar/x509@1; it should become a direct dependency.
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';
