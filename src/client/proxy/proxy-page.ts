import type { HiddenFileRecord, ProxyFileEntry, ProxyProjectView } from './verifying-proxy.ts';
import { html, joinHtml, trustedHtml, type SafeHtml } from '../../ui/html.ts';

/**
 * The pages a person reads when pip says "no matching distribution" through `cairn proxy`: for
 * each upstream file, listed or hidden, and the exact reason (policy code and sentence). Self
 * contained (inline style), since the proxy serves no assets.
 */

export interface ProxyPageContext {
  /** The proxy's own base URL, for the commands shown. */
  baseUrl: string;
  upstream: string;
  policySource: string;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:80rem;padding:1rem 1.5rem;color:#1b1f24;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6e6e6;background:#14171a}a{color:#8cb4ff}th{background:#22272e!important}}
h1{font-size:1.5rem;margin:.5rem 0}table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border-bottom:1px solid #8884;padding:.4rem .5rem;text-align:left;vertical-align:top}th{background:#f3f4f6}
code,.mono{font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}
.listed{color:#1a7f37;font-weight:600}.hidden{color:#cf222e;font-weight:600}
.reason{max-width:40rem}dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
td,dd{overflow-wrap:anywhere}
@media (max-width:760px){body{padding:1rem}dl{grid-template-columns:minmax(0,1fr)}
table,tbody,tr,td{display:block;width:100%}thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
tr{border-bottom:1px solid #8884;padding:.4rem 0}td{border:0;padding:.1rem 0;display:grid;grid-template-columns:5.5rem minmax(0,1fr);gap:.5rem}
td::before{content:attr(data-label);font-weight:600}}
`;

function page(title: string, main: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · cairn proxy</title>
<style>${trustedHtml(STYLE)}</style>
</head>
<body>
<header><a href="/">cairn proxy</a> · <a href="/simple/">simple index</a></header>
<main>
${main}
</main>
</body>
</html>
`.value;
}

function statusCell(entry: ProxyFileEntry): SafeHtml {
  return entry.status === 'listed' ? html`<span class="listed">listed</span>` : html`<span class="hidden">hidden</span>`;
}

function signerOf(entry: ProxyFileEntry): { signer: string; builder: string; source: string } {
  const verdict = entry.result?.verdict;
  const first = entry.result?.attestations.find((a) => a.verified);
  const repository = verdict?.sourceRepository ?? first?.sourceRepository ?? null;
  const commit = verdict?.sourceCommit ?? first?.sourceCommit ?? null;
  return {
    signer: verdict?.signer?.identity ?? first?.identity ?? '',
    builder: verdict?.builder ?? first?.builder ?? '',
    source: repository ? `${repository}${commit ? `@${commit.slice(0, 12)}` : ''}` : '',
  };
}

function attestationList(entry: ProxyFileEntry): SafeHtml {
  const reports = entry.result?.attestations ?? [];
  const warnings = entry.result?.warnings ?? [];
  if (reports.length === 0 && warnings.length === 0) return html``;
  return html`<details><summary>${reports.length} attestation(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}</summary><ul>
${reports.map((a) =>
  a.verified
    ? html`<li>verified ${a.kind} attestation by <code>${a.identity ?? ''}</code> (issuer <code>${a.issuer ?? ''}</code>) <span class="mono">${a.source}</span></li>`
    : html`<li>not verified <code>[${a.code ?? ''}]</code> ${a.error ?? ''} <span class="mono">${a.source}</span></li>`,
)}
${warnings.map((w) => html`<li>warning: ${w}</li>`)}
</ul></details>`;
}

function fileRow(entry: ProxyFileEntry): SafeHtml {
  const who = signerOf(entry);
  const reason = entry.status === 'hidden' ? html`<code>[${entry.code ?? ''}]</code> ${entry.reason}` : html`${entry.reason}`;
  return html`<tr id="${entry.filename}" data-status="${entry.status}" data-code="${entry.code ?? ''}">
<td class="mono" data-label="File"><span>${entry.filename}${entry.yanked !== false ? html` <em>(yanked${entry.yanked ? `: ${entry.yanked}` : ''})</em>` : ''}</span></td>
<td data-label="Version"><span>${entry.version ?? ''}</span></td>
<td data-label="Status"><span>${statusCell(entry)}</span></td>
<td class="reason" data-label="Reason"><div>${reason}${attestationList(entry)}</div></td>
<td class="mono" data-label="Signer"><span>${who.signer}</span></td>
<td class="mono" data-label="Builder"><span>${who.builder}</span></td>
<td class="mono" data-label="Source"><span>${who.source}</span></td>
</tr>`;
}

export function proxyProjectPage(ctx: ProxyPageContext, view: ProxyProjectView): string {
  const listed = view.files.filter((f) => f.status === 'listed').length;
  const hidden = view.files.length - listed;
  const index = `${ctx.baseUrl.replace(/\/+$/, '')}/simple/`;
  return page(
    view.name,
    html`<h1>${view.name}</h1>
<p>${listed} of ${view.files.length} upstream file(s) listed, <strong>${hidden} hidden</strong> by the policy <code>${ctx.policySource}</code>.
${listed === 0 ? html`<strong>pip and uv find no installable file of this project through the proxy</strong>; the reasons are below.` : ''}</p>
<dl>
<dt>Upstream page</dt><dd class="mono">${view.upstreamPageUrl}</dd>
<dt>Checked at</dt><dd>${view.checkedAt}</dd>
<dt>Install through the proxy</dt><dd><code>pip install --index-url ${index} ${view.project}</code></dd>
<dt>Machine-readable</dt><dd><a href="?format=json">this page as JSON</a></dd>
</dl>
<table>
<thead><tr><th scope="col">File</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Signer</th><th scope="col">Builder</th><th scope="col">Source</th></tr></thead>
<tbody>
${view.files.map(fileRow)}
</tbody>
</table>
${view.files.length === 0 ? html`<p>The upstream lists no files for this project.</p>` : ''}`,
  );
}

export function proxyOverviewPage(ctx: ProxyPageContext, projects: { project: string; name: string }[], hidden: HiddenFileRecord[]): string {
  const index = `${ctx.baseUrl.replace(/\/+$/, '')}/simple/`;
  return page(
    'overview',
    html`<h1>cairn proxy</h1>
<p>A package index for pip and uv that lists a file of <code>${ctx.upstream}</code> only when its provenance verifies and passes the policy <code>${ctx.policySource}</code>. Downloads are re-checked against the verified sha256.</p>
<p>Use it: <code>pip install --index-url ${index} NAME</code> (or <code>PIP_INDEX_URL=${index}</code>, <code>UV_INDEX_URL=${index}</code>). When pip reports “no matching distribution”, open <code>${ctx.baseUrl.replace(/\/+$/, '')}/project/NAME/</code> for the reason.</p>
<h2>Projects checked</h2>
${projects.length === 0 ? html`<p>None yet.</p>` : html`<ul>${joinHtml(projects.map((p) => html`<li><a href="/project/${encodeURIComponent(p.project)}/">${p.name}</a></li>`))}</ul>`}
<h2>Hidden files (${hidden.length})</h2>
${
  hidden.length === 0
    ? html`<p>None so far.</p>`
    : html`<table><thead><tr><th scope="col">Project</th><th scope="col">File</th><th scope="col">Cause</th><th scope="col">Reason</th><th scope="col">Last seen</th></tr></thead><tbody>
${hidden.map((r) => html`<tr><td data-label="Project"><span><a href="/project/${encodeURIComponent(r.project)}/">${r.project}</a></span></td><td class="mono" data-label="File"><span>${r.filename}</span></td><td data-label="Cause"><span>${r.cause}</span></td><td class="reason" data-label="Reason"><div><code>[${r.code}]</code> ${r.reason}</div></td><td data-label="Last seen"><span>${r.lastSeen}</span></td></tr>`)}
</tbody></table>`
}
<p><a href="/_/hidden">hidden files as JSON</a></p>`,
  );
}

export function proxyNotFoundPage(ctx: ProxyPageContext, what: string): string {
  return page('not found', html`<h1>Not found</h1><p>${what}</p><p>Upstream: <code>${ctx.upstream}</code></p>`);
}
