import { parse, TomlError } from 'smol-toml';
import { CairnError } from '../errors.ts';
import { isValidProjectName, normalizeProjectName } from '../formats/project-name.ts';
import { TomlKeyLines } from './toml-key-lines.ts';
import { PROJECT_STATUSES, type ProjectStatus } from '../formats/project-status.ts';
import type { BuilderRule, CertificateConditions, ContinuityMode, Policy, ProjectRule, PublisherRule, RequiredKind, RunnerEnvironment } from './types.ts';

/**
 * Parses and validates the consumer policy (DESIGN §10, docs/policy.md). Every error names the
 * file, the line and the key, and says what to write instead: a policy that silently ignores a
 * misspelt key would trust less, or more, than its author believes.
 */

const REQUIRED_KINDS: readonly RequiredKind[] = ['build', 'publish', 'any', 'none'];
const CONTINUITY_MODES: readonly ContinuityMode[] = ['off', 'warn', 'fail'];

const TOP_KEYS = ['version', 'defaults', 'builders', 'publishers', 'projects'] as const;
const DEFAULTS_KEYS = ['require', 'identity-continuity', 'fail-on-status'] as const;
const CONDITION_KEYS = ['runner', 'source-ref', 'predicate-type', 'signer-digest'] as const;
const BUILDER_KEYS = ['issuer', 'identity', ...CONDITION_KEYS] as const;
const PUBLISHER_KEYS = ['issuer', 'repository', 'workflow', 'identity', ...CONDITION_KEYS] as const;
const PROJECT_KEYS = ['require', 'source-repository', 'identity-continuity', 'fail-on-status'] as const;
const RUNNERS: readonly RunnerEnvironment[] = ['github-hosted', 'self-hosted'];
/** Statuses a policy may fail on: `active` is every project's default and is no warning sign. */
const FAILABLE_STATUSES = PROJECT_STATUSES.filter((s) => s !== 'active');

/** `require` when neither the project nor `[defaults]` says: some trusted signer of either kind. */
export const DEFAULT_REQUIRE: RequiredKind = 'any';
export const DEFAULT_CONTINUITY: ContinuityMode = 'warn';
/** A quarantined project is one its index considers unsafe (PEP 792): failing on it is the safe default. */
export const DEFAULT_FAIL_ON_STATUS: readonly ProjectStatus[] = ['quarantined'];

type Table = Record<string, unknown>;

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

class PolicyReader {
  constructor(
    private readonly source: string,
    private readonly locator: TomlKeyLines,
  ) {}

  fail(path: string, problem: string): never {
    const line = this.locator.lineOf(path);
    const where = line === undefined ? this.source : `${this.source}:${line}`;
    throw new CairnError('policy.invalid', `${where}: ${path}: ${problem}`, { source: this.source, line: line ?? null, key: path });
  }

  table(value: unknown, path: string, what: string): Table {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
      this.fail(path, `must be a table (${what}), got ${describe(value)}`);
    }
    return value as Table;
  }

  onlyKeys(table: Table, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(table)) {
      if (allowed.includes(key)) continue;
      const keyPath = path === '' ? key : `${path}.${key}`;
      const near = allowed.find((a) => editDistance(a, key) <= 2);
      const hint = near ? `did you mean \`${near}\`? ` : '';
      this.fail(keyPath, `unknown key \`${key}\`; ${hint}allowed here: ${allowed.join(', ')}`);
    }
  }

  string(table: Table, key: string, path: string, opts: { required: true; hint: string }): string;
  string(table: Table, key: string, path: string, opts: { required: false; hint: string }): string | undefined;
  string(table: Table, key: string, path: string, opts: { required: boolean; hint: string }): string | undefined {
    const keyPath = `${path}.${key}`;
    const value = table[key];
    if (value === undefined) {
      if (opts.required) this.fail(path, `missing \`${key}\` (${opts.hint})`);
      return undefined;
    }
    if (typeof value !== 'string') this.fail(keyPath, `must be a string (${opts.hint}), got ${describe(value)}`);
    if (value.trim() === '') this.fail(keyPath, `must not be empty (${opts.hint})`);
    if (value !== value.trim()) this.fail(keyPath, `has leading or trailing whitespace: ${JSON.stringify(value)}`);
    return value;
  }

  oneOf<T extends string>(table: Table, key: string, path: string, allowed: readonly T[]): T | undefined {
    const value = this.string(table, key, path, { required: false, hint: `one of ${allowed.map((a) => `"${a}"`).join(', ')}` });
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(`${path}.${key}`, `${JSON.stringify(value)} is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return value as T;
  }

  issuer(table: Table, path: string): string {
    const issuer = this.string(table, 'issuer', path, { required: true, hint: 'the exact OIDC issuer URL, e.g. "https://token.actions.githubusercontent.com"' });
    if (!/^https?:\/\/[^\s/]+/.test(issuer) || /[*?]/.test(issuer)) {
      this.fail(`${path}.issuer`, `must be an exact http(s) issuer URL without wildcards, got ${JSON.stringify(issuer)}`);
    }
    return issuer;
  }

  pattern(table: Table, key: string, path: string, hint: string, required: boolean): string | undefined {
    const value = required ? this.string(table, key, path, { required: true, hint }) : this.string(table, key, path, { required: false, hint });
    // A pattern made only of wildcards would trust every signer the issuer certifies, which is
    // the same as trusting the issuer's whole user base: almost never what the author meant.
    if (value !== undefined && /^[*?/]+$/.test(value)) {
      this.fail(`${path}.${key}`, `${JSON.stringify(value)} matches every signer of the issuer; name the builder or repository`);
    }
    return value;
  }

  statusList(table: Table, key: string, path: string): ProjectStatus[] | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    const keyPath = `${path}.${key}`;
    const hint = `a list of PEP 792 statuses, e.g. ["quarantined", "deprecated"]; allowed: ${FAILABLE_STATUSES.map((s) => `"${s}"`).join(', ')}`;
    if (!Array.isArray(value)) this.fail(keyPath, `must be ${hint}, got ${describe(value)}`);
    for (const item of value) {
      if (typeof item !== 'string' || !(FAILABLE_STATUSES as readonly string[]).includes(item)) this.fail(keyPath, `${describe(item)} is not allowed: ${hint}`);
    }
    return [...new Set(value as ProjectStatus[])];
  }

  /** The certificate conditions any builder or publisher entry may add. */
  conditions(table: Table, path: string): CertificateConditions {
    const runner = this.oneOf(table, 'runner', path, RUNNERS);
    const sourceRef = this.string(table, 'source-ref', path, { required: false, hint: 'a glob on the certificate\'s source repository ref, e.g. "refs/tags/v*"' });
    if (sourceRef !== undefined && !sourceRef.startsWith('refs/') && !/^[*?]/.test(sourceRef)) {
      this.fail(`${path}.source-ref`, `is a git ref as the certificate names it, starting with refs/ (e.g. "refs/tags/v*"), got ${JSON.stringify(sourceRef)}`);
    }
    const predicateType = this.string(table, 'predicate-type', path, { required: false, hint: 'the exact predicate type URI, e.g. "https://slsa.dev/provenance/v1"' });
    if (predicateType !== undefined && !/^[a-z][a-z0-9+.-]*:\S+$/i.test(predicateType)) this.fail(`${path}.predicate-type`, `must be a URI, got ${JSON.stringify(predicateType)}`);
    const signerDigest = this.string(table, 'signer-digest', path, { required: false, hint: 'the build signer digest (a 40- or 64-hex commit)' });
    if (signerDigest !== undefined && !/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(signerDigest)) this.fail(`${path}.signer-digest`, `must be a 40- or 64-hex digest, got ${JSON.stringify(signerDigest)}`);
    return {
      ...(runner !== undefined ? { runner } : {}),
      ...(sourceRef !== undefined ? { sourceRef } : {}),
      ...(predicateType !== undefined ? { predicateType } : {}),
      ...(signerDigest !== undefined ? { signerDigest } : {}),
    };
  }

  array(value: unknown, path: string, what: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `must be an array of tables (write [[${path}]] per ${what}), got ${describe(value)}`);
    return value;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function readBuilder(reader: PolicyReader, value: unknown, path: string, line: number | undefined): BuilderRule {
  const t = reader.table(value, path, 'a trusted builder');
  reader.onlyKeys(t, path, BUILDER_KEYS);
  const issuer = reader.issuer(t, path);
  const identity = reader.pattern(t, 'identity', path, 'a glob on the signing identity, e.g. "https://github.com/ORG/builder/.github/workflows/build.yml@refs/tags/v*"', true)!;
  return { issuer, identity, ...reader.conditions(t, path), ...(line !== undefined ? { line } : {}) };
}

function readPublisher(reader: PolicyReader, value: unknown, path: string, line: number | undefined): PublisherRule {
  const t = reader.table(value, path, 'a trusted publisher');
  reader.onlyKeys(t, path, PUBLISHER_KEYS);
  const issuer = reader.issuer(t, path);
  const repository = reader.pattern(t, 'repository', path, 'OWNER/REPO of the publishing workflow', false);
  const identity = reader.pattern(t, 'identity', path, 'a glob on the signing identity, e.g. an email', false);
  if (repository === undefined && identity === undefined) reader.fail(path, 'missing `repository` (OWNER/REPO of the publishing workflow) or `identity` (a glob on the signing identity)');
  if (repository !== undefined && identity !== undefined) reader.fail(`${path}.identity`, 'give `repository` (and `workflow`) or `identity`, not both');
  if (repository !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(repository)) reader.fail(`${path}.repository`, `must be OWNER/REPO, got ${JSON.stringify(repository)}`);
  const workflow = reader.pattern(t, 'workflow', path, 'the workflow file name, e.g. "release.yml"', false);
  if (workflow !== undefined && repository === undefined) reader.fail(`${path}.workflow`, 'only applies with `repository`');
  if (workflow !== undefined && workflow.includes('/')) reader.fail(`${path}.workflow`, `is a file name under .github/workflows/, without a path: ${JSON.stringify(workflow)}`);
  return {
    issuer,
    ...(repository !== undefined ? { repository } : {}),
    ...(identity !== undefined ? { identity } : {}),
    ...(workflow !== undefined ? { workflow } : {}),
    ...reader.conditions(t, path),
    ...(line !== undefined ? { line } : {}),
  };
}

function readProject(reader: PolicyReader, name: string, value: unknown, path: string, line: number | undefined): ProjectRule {
  if (!isValidProjectName(name)) reader.fail(path, `${JSON.stringify(name)} is not a valid project name`);
  const t = reader.table(value, path, 'the rule for one project');
  reader.onlyKeys(t, path, PROJECT_KEYS);
  const require = reader.oneOf(t, 'require', path, REQUIRED_KINDS);
  const sourceRepository = reader.string(t, 'source-repository', path, { required: false, hint: 'the repository URL, e.g. "https://github.com/pypa/sampleproject"' });
  if (sourceRepository !== undefined && !/^https?:\/\/[^\s/]+\/\S+$/.test(sourceRepository)) {
    reader.fail(`${path}.source-repository`, `must be a repository URL such as "https://github.com/OWNER/REPO", got ${JSON.stringify(sourceRepository)}`);
  }
  if (sourceRepository !== undefined && require === 'none') {
    reader.fail(`${path}.source-repository`, 'cannot be checked when `require = "none"` (no attestation is required to name it)');
  }
  const identityContinuity = reader.oneOf(t, 'identity-continuity', path, CONTINUITY_MODES);
  const failOnStatus = reader.statusList(t, 'fail-on-status', path);
  return {
    name: normalizeProjectName(name),
    ...(failOnStatus !== undefined ? { failOnStatus } : {}),
    ...(require !== undefined ? { require } : {}),
    ...(sourceRepository !== undefined ? { sourceRepository } : {}),
    ...(identityContinuity !== undefined ? { identityContinuity } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}

/** Parses policy TOML text. `source` names it in errors (a path, or `<text>`). Pure: no I/O. */
export function parsePolicy(text: string, source = '<policy>'): Policy {
  let document: Table;
  try {
    document = parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split('\n')[0];
      throw new CairnError('policy.invalid', `${source}:${error.line}:${error.column}: not valid TOML: ${first}`, { source, line: error.line, column: error.column, key: null });
    }
    throw error;
  }
  const locator = new TomlKeyLines(text);
  const reader = new PolicyReader(source, locator);
  reader.onlyKeys(document, '', TOP_KEYS);

  if (document.version === undefined) reader.fail('version', 'missing; start the file with `version = 1`');
  if (document.version !== 1) reader.fail('version', `unsupported policy version ${describe(document.version)}; this cairn reads \`version = 1\``);

  let require = DEFAULT_REQUIRE;
  let identityContinuity = DEFAULT_CONTINUITY;
  let failOnStatus = [...DEFAULT_FAIL_ON_STATUS];
  if (document.defaults !== undefined) {
    const defaults = reader.table(document.defaults, 'defaults', 'write [defaults]');
    reader.onlyKeys(defaults, 'defaults', DEFAULTS_KEYS);
    require = reader.oneOf(defaults, 'require', 'defaults', REQUIRED_KINDS) ?? require;
    identityContinuity = reader.oneOf(defaults, 'identity-continuity', 'defaults', CONTINUITY_MODES) ?? identityContinuity;
    failOnStatus = reader.statusList(defaults, 'fail-on-status', 'defaults') ?? failOnStatus;
  }

  const builders = document.builders === undefined ? [] : reader.array(document.builders, 'builders', 'trusted builder');
  const publishers = document.publishers === undefined ? [] : reader.array(document.publishers, 'publishers', 'trusted publisher');

  const projects = new Map<string, ProjectRule>();
  if (document.projects !== undefined) {
    const table = reader.table(document.projects, 'projects', 'write [projects.NAME] per project');
    const spelled = new Map<string, string>();
    for (const [name, value] of Object.entries(table)) {
      const path = `projects.${name}`;
      const rule = readProject(reader, name, value, path, locator.lineOf(path));
      const earlier = spelled.get(rule.name);
      if (earlier !== undefined) reader.fail(path, `names the same project as [projects.${earlier}] (names compare in PEP 503 normal form, ${rule.name})`);
      spelled.set(rule.name, name);
      projects.set(rule.name, rule);
    }
  }

  return {
    version: 1,
    defaults: { require, identityContinuity, failOnStatus },
    builders: builders.map((b, i) => readBuilder(reader, b, `builders[${i}]`, locator.lineOf(`builders[${i}]`))),
    publishers: publishers.map((p, i) => readPublisher(reader, p, `publishers[${i}]`, locator.lineOf(`publishers[${i}]`))),
    projects,
    source,
  };
}
