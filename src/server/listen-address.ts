import { CairnError } from '../errors.ts';

/**
 * The URL clients reach the index at, for what must name it absolutely (the dev trust domain's
 * issuer and trusted root): the configured public base URL, else the address the server listens
 * on, which is known only after listen (port 0 in tests).
 */
export class ListenAddress {
  private listening: string | null = null;

  constructor(private readonly configured: string | null) {}

  /** Set once by the HTTP server when it listens. */
  listeningAt(url: string): void {
    this.listening = url.replace(/\/+$/, '');
  }

  url(): string {
    const url = this.configured ?? this.listening;
    if (url === null) throw new CairnError('internal.error', 'the index URL is not known before the server listens');
    return url;
  }
}
