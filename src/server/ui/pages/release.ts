import type { IndexUrls } from '../../pages/index-urls.ts';
import type { ReleaseFile, ReleaseFileAttestation, ReleasePageData } from '../../pages/catalogue-views.ts';
import {
  attestationSummary,
  builderOf,
  commitLink,
  copyableCommand,
  copyButton,
  devTrustNotice,
  devTrustTag,
  factRow,
  projectStatusNotice,
  provenanceBadge,
  publisherLabel,
  signedByDevTrust,
  sourceOf,
  thirdPartySummary,
  urlFact,
  DEV_TRUST_LABEL,
} from '../components.ts';
import { statusServesFiles } from '../../../formats/project-status.ts';
import { formatBytes, formatTime, packageTypeLabel, integratedTimeIso } from '../../../ui/format.ts';
import { externalLink, html, safeUrl, type SafeHtml } from '../../../ui/html.ts';
import { layout, type PageContext } from './layout.ts';

export interface ReleasePageOptions {
  urls: IndexUrls;
  /** Where the dev trust domain is mounted, when this index trusts it (its signers need `--dev-trust`). */
  devTrustBase: string | null;
}

const KIND_TITLES: Record<ReleaseFileAttestation['kind'], string> = {
  build: 'Build provenance',
  publish: 'Publish attestation',
  other: 'Attestation',
};

function timeFact(iso: string | null): SafeHtml {
  return iso ? html`<time datetime="${iso}">${formatTime(iso)}</time>` : html`<span class="muted">not stated</span>`;
}

function attestationFacts(a: ReleaseFileAttestation, devTrust: boolean): SafeHtml {
  const f = a.facts;
  // What the dev trust domain certified is whatever its caller claimed: shown, never linked.
  const asText = devTrust;
  const rows: SafeHtml[] = [factRow('Signer issuer', html`<span class="url">${f.issuer}</span>`), factRow('Signer identity', html`<span class="url">${f.identity}</span>`)];
  if (a.kind === 'build') {
    const { repository, commit } = sourceOf(f);
    rows.push(
      factRow('Builder', html`<span class="url" data-fact="builder">${builderOf(f)}</span>`),
      factRow('Build signer URI', f.buildSignerUri ? html`${urlFact(f.buildSignerUri, { asText })}${f.buildSignerDigest ? html` <code class="digest-inline">${f.buildSignerDigest}</code>` : ''}` : html`<span class="muted">not in certificate</span>`),
      factRow('Source repository', html`<span data-fact="repository">${repository ? urlFact(repository, { asText }) : html`<span class="muted">not in certificate</span>`}</span>`),
      factRow('Source commit', html`<span data-fact="commit">${commit ? commitLink(repository, commit, { asText }) : html`<span class="muted">not in certificate</span>`}</span>`),
    );
    // What only the statement says is shown as such: the signer wrote it, no CA vouched for it.
    if (!repository && f.statementRepository) rows.push(factRow('Source stated (not certified)', html`<span class="url">${f.statementRepository}${f.statementCommit ? html` @ <code>${f.statementCommit}</code>` : ''}</span>`));
    if (f.builderId && f.builderId !== builderOf(f)) rows.push(factRow('Builder stated (not certified)', html`<span class="url" data-fact="stated-builder">${f.builderId}</span>`));
    if (f.sourceRepositoryRef) rows.push(factRow('Source ref', html`<code>${f.sourceRepositoryRef}</code>`));
    if (f.buildType) rows.push(factRow('Build type', html`<span class="url">${f.buildType}</span>`));
  } else if (a.kind === 'publish') {
    rows.push(factRow('Trusted publisher', publisherLabel(a)));
    if (f.sourceRepositoryUri) rows.push(factRow('Source repository', urlFact(f.sourceRepositoryUri, { asText })));
    if (f.sourceRepositoryDigest) rows.push(factRow('Source commit', commitLink(f.sourceRepositoryUri, f.sourceRepositoryDigest, { asText })));
  }
  const invocation = f.runInvocationUri ?? f.invocationId;
  rows.push(factRow('Run invocation', urlFact(invocation, { asText })));
  if (f.runnerEnvironment) rows.push(factRow('Runner environment', f.runnerEnvironment));
  rows.push(
    factRow('Transparency log index', html`<code>${f.logIndex}</code>`),
    factRow('Integrated time', timeFact(integratedTimeIso(f.integratedTime))),
    factRow('Certificate valid', html`${timeFact(f.certificateNotBefore)} to ${timeFact(f.certificateNotAfter)}`),
    factRow('Submitted', a.submittedBeforeUpload ? 'before upload (bound when the file arrived)' : 'after upload'),
    factRow('Party', a.firstParty ? 'first party (the project vouches for it)' : 'third party (shown apart; it changes none of the release’s provenance)'),
    factRow('Bound to file', timeFact(a.boundAt)),
    factRow('Predicate type', html`<span class="url">${a.predicateType}</span>`),
  );
  const parameters =
    a.kind === 'build'
      ? html`<h5>Statement parameters</h5>${
          a.parameters === null || a.parameters === undefined
            ? html`<p class="muted">The statement names no external parameters.</p>`
            : html`<pre class="parameters">${JSON.stringify(a.parameters, null, 2)}</pre>`
        }`
      : '';
  return html`<section class="attestation attestation-${a.kind}${a.firstParty ? '' : ' attestation-third-party'}">
  <h4>${a.firstParty ? '' : 'Third-party '}${a.firstParty ? KIND_TITLES[a.kind] : KIND_TITLES[a.kind].toLowerCase()} ${
    devTrust
      ? html`<span class="verified verified-devtrust">verified against the ${DEV_TRUST_LABEL}</span>`
      : html`<span class="verified">verified at submission</span>`
  }</h4>
  <dl class="facts">${rows}</dl>
  ${parameters}
</section>`;
}

function verifyCommand(data: ReleasePageData, ctx: PageContext, options: ReleasePageOptions): string {
  const requirement = `${data.project.normalized_name}==${data.release.version}`;
  const devSigned = data.files.some((file) => file.attestations.some((a) => signedByDevTrust(a.facts.issuer, options.devTrustBase)));
  return `cairn verify '${requirement}' --index ${ctx.baseUrl}${devSigned ? ` --dev-trust ${options.devTrustBase}` : ''}`;
}

function fileRows(file: ReleaseFile, data: ReleasePageData, ctx: PageContext, options: ReleasePageOptions, command: string): SafeHtml {
  // PEP 792: a quarantined project's files are not served, so they are not offered as links.
  const download = statusServesFiles(data.project.status) ? safeUrl(options.urls.fileUrl(file.sha256, file.filename)) : null;
  const integrity = options.urls.provenanceUrl(data.project.normalized_name, data.release.version, file.filename);
  // Third parties' attestations are listed apart and never read as the file's provenance.
  const own = file.attestations.filter((a) => a.firstParty);
  const others = file.attestations.filter((a) => !a.firstParty);
  const summaries = own.map(attestationSummary);
  const devTrust = own.map((a) => signedByDevTrust(a.facts.issuer, options.devTrustBase));
  const anchor = `file-${file.id}`;
  return html`<tr class="file-row" id="${anchor}">
  <th scope="row" class="filename">${download ? html`<a href="${download}">${file.filename}</a>` : file.filename}</th>
  <td data-label="Type">${packageTypeLabel(file.packagetype)}</td>
  <td data-label="Python"><code>${file.pythonVersion}</code></td>
  <td data-label="Size">${formatBytes(file.size)}</td>
  <td data-label="Uploaded"><time datetime="${file.uploadTime}">${formatTime(file.uploadTime)}</time></td>
  <td data-label="SHA-256" class="sha-cell"><code class="digest" title="${file.sha256}">${file.sha256.slice(0, 12)}…</code>${copyButton(file.sha256, `SHA-256 of ${file.filename}`)}</td>
</tr>
<tr class="provenance-row">
  <td colspan="6">
    <details class="provenance-panel${summaries.length === 0 ? ' no-provenance' : ''}" data-filename="${file.filename}">
      <summary>
        <span class="visually-hidden">Provenance of ${file.filename}: </span>
        ${
          summaries.length === 0
            ? html`<span class="prov-line prov-none">No provenance</span>`
            : summaries.map((s, i) => html`<span class="prov-line prov-${own[i]!.kind}${devTrust[i] ? ' prov-devtrust' : ''}">${s}</span>`)
        }
        ${devTrust.some(Boolean) ? devTrustTag() : ''}
        ${others.length > 0 ? html`<span class="prov-line prov-third-party" data-third-party="${others.length}">${thirdPartySummary(others)}</span>` : ''}
      </summary>
      <div class="panel-body">
        <h3 class="visually-hidden">Details of ${file.filename}</h3>
        <dl class="facts">
          ${factRow('SHA-256', html`<code class="digest-full">${file.sha256}</code>`)}
          ${file.requiresPython ? factRow('Requires Python', html`<code>${file.requiresPython}</code>`) : ''}
        </dl>
        ${own.map((a, i) => attestationFacts(a, devTrust[i]!))}
        ${
          others.length > 0
            ? html`<section class="third-party" aria-label="Third-party attestations of ${file.filename}">
          <h4>Also attested by third parties</h4>
          <p class="muted">Bound after the file was public by signers the project does not vouch for. They change neither this release's provenance state nor its badge or feed.</p>
          ${others.map((a) => attestationFacts(a, signedByDevTrust(a.facts.issuer, options.devTrustBase)))}
        </section>`
            : ''
        }
        ${
          file.attestations.length === 0
            ? html`<p>No attestation is bound to this file. Nothing says who built it or from which source.</p>`
            : html`<p class="panel-links">Raw attestation (PEP 740 provenance object): ${externalLink(integrity, 'integrity API')}</p>`
        }
        <p class="verify-label">Check it yourself, against your own policy:</p>
        ${copyableCommand(command, `cairn verify command for ${file.filename}`)}
      </div>
    </details>
  </td>
</tr>`;
}

export function releasePage(ctx: PageContext, data: ReleasePageData, options: ReleasePageOptions): string {
  const { project, release, files, info } = data;
  const name = project.normalized_name;
  const command = verifyCommand(data, ctx, options);
  const summary = release.summary ?? (typeof info.summary === 'string' ? info.summary : null);
  const isLatest = data.latestVersion === release.version;
  const devTrust = files.some((f) => f.attestations.some((a) => a.firstParty && signedByDevTrust(a.facts.issuer, options.devTrustBase)));
  const main = html`
<nav class="breadcrumb" aria-label="Breadcrumb"><ol>
  <li><a href="/project/${name}/">${project.name}</a></li>
  <li><span aria-current="page">${release.version}</span></li>
</ol></nav>
<div class="page-head">
  <div>
    <h1>${project.name} <span class="version">${release.version}</span></h1>
    ${summary ? html`<p class="summary">${summary}</p>` : ''}
  </div>
  <p class="head-badge">${provenanceBadge(data.provenance, { devTrust })}</p>
</div>
${projectStatusNotice(project)}
${devTrust ? devTrustNotice(`The provenance of ${release.version}`) : ''}
${
  release.yanked
    ? html`<p class="notice notice-warning" role="note"><strong>Yanked.</strong> Installers skip this release unless it is pinned exactly.${release.yanked_reason ? html` Reason: ${release.yanked_reason}` : ''}</p>`
    : ''
}
${!isLatest && data.latestVersion ? html`<p class="notice" role="note">This is not the latest release. The latest is <a href="/project/${name}/${data.latestVersion}/">${data.latestVersion}</a>.</p>` : ''}
<section aria-labelledby="release-provenance-title">
  <h2 id="release-provenance-title">Provenance</h2>
  <p>${provenanceBadge(data.provenance, { explain: true, devTrust })}</p>
</section>
<section aria-labelledby="files-title">
  <h2 id="files-title">Files <span class="count">(${files.length})</span></h2>
  <p class="muted">Open a file's provenance line for the verified facts.</p>
  <div class="table-wrap">
    <table class="files">
      <caption class="visually-hidden">Files of ${project.name} ${release.version}</caption>
      <thead><tr><th scope="col">File</th><th scope="col">Type</th><th scope="col">Python</th><th scope="col">Size</th><th scope="col">Uploaded</th><th scope="col">SHA-256</th></tr></thead>
      <tbody>${files.map((f) => fileRows(f, data, ctx, options, command))}</tbody>
    </table>
  </div>
</section>
<section aria-labelledby="versions-title" class="other-versions">
  <h2 id="versions-title">Other releases</h2>
  <ul class="version-chips">${data.versions.slice(0, 30).map(
    (v) => html`<li>${
      v.version === release.version
        ? html`<span aria-current="page" class="chip chip-current">${v.version}</span>`
        : html`<a class="chip${v.yanked ? ' chip-yanked' : ''}" href="/project/${name}/${v.version}/">${v.version}${v.yanked ? ' (yanked)' : ''}</a>`
    }</li>`,
  )}</ul>
  ${data.versions.length > 30 ? html`<p><a href="/project/${name}/">All ${data.versions.length} releases</a></p>` : ''}
</section>`;
  return layout(ctx, { title: `${project.name} ${release.version}`, main, ...(summary ? { description: summary } : {}) });
}
