/**
 * RSS 2.0 feeds, as PyPI serves them under `/rss/`. Every text comes from package metadata, which
 * is attacker-controlled: it is escaped, and characters XML 1.0 forbids (most C0 controls, lone
 * surrogates, U+FFFE/U+FFFF) are dropped, because one of them makes the whole feed unreadable to
 * every reader that subscribes to it.
 */

import { stripBidiControls } from './bidi.ts';

export interface RssChannel {
  title: string;
  /** The HTML page the feed is about. */
  link: string;
  description: string;
  /** The feed's own URL (Atom `self` link, which feed validators ask for). */
  selfUrl: string;
}

export interface RssItem {
  title: string;
  link: string;
  description: string;
  published: Date;
  /** Stable and unique per item, so readers do not show an item twice. */
  guid: string;
}

// eslint-disable-next-line no-control-regex -- these are exactly the characters XML 1.0 forbids
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Bidi controls are stripped rather than isolated: feed readers render titles with whatever bidi
 * support their toolkit has, and one without isolates would let an override run on (issue 11).
 */
export function xmlText(value: string): string {
  return stripBidiControls(value)
    .replace(NOT_XML_CHAR, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function renderRss(channel: RssChannel, items: readonly RssItem[]): string {
  const element = (name: string, value: string) => `<${name}>${xmlText(value)}</${name}>`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
    '<channel>',
    element('title', channel.title),
    element('link', channel.link),
    element('description', channel.description),
    `<atom:link href="${xmlText(channel.selfUrl)}" rel="self" type="application/rss+xml"/>`,
    element('language', 'en'),
  ];
  for (const item of items) {
    lines.push(
      '<item>',
      element('title', item.title),
      element('link', item.link),
      element('description', item.description),
      // RFC 822 date, as RSS 2.0 requires; toUTCString gives that form.
      element('pubDate', item.published.toUTCString()),
      `<guid isPermaLink="false">${xmlText(item.guid)}</guid>`,
      '</item>',
    );
  }
  lines.push('</channel>', '</rss>', '');
  return lines.join('\n');
}
