// @peculiar/x509 2 resolves its ASN.1 services through tsyringe, which needs the Reflect
// metadata polyfill loaded first.
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';
