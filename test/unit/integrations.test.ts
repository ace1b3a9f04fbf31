import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { parse, parseAllDocuments } from 'yaml';
import { registerAdmin } from '../../src/cli/admin.ts';
import { registerBuild } from '../../src/cli/build.ts';
import { registerPublish } from '../../src/cli/publish.ts';
import { DEFAULT_OIDC_AUDIENCE } from '../../src/server/config.ts';
import { obtainOidcToken } from '../../src/client/oidc-credentials.ts';
import type { TrustedPublisher } from '../../src/server/publishing/trusted-publishers.ts';
import { GITHUB_OIDC_ISSUER, publisherClaimMismatch } from '../../src/trust/publisher-claims.ts';

// The CI templates cannot run here (issue 4): these tests hold their structure to what GitHub,
// GitLab and cairn's own CLI expect, so a rename on either side shows up as a failure.

type Yaml = Record<string, unknown>;

const root = new URL('../../', import.meta.url);
const text = (path: string) => readFileSync(new URL(path, root), 'utf8');
const GITHUB_BUILDER = 'integrations/github/cairn-build.yml';
const GITHUB_CALLER = 'integrations/github/example-publish.yml';
const GITLAB_TEMPLATE = 'integrations/gitlab/cairn-build.gitlab-ci.yml';

function map(value: unknown, where: string): Yaml {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${where} is a mapping`);
  return value as Yaml;
}
function list(value: unknown, where: string): unknown[] {
  assert.ok(Array.isArray(value), `${where} is a list`);
  return value;
}
function str(value: unknown, where: string): string {
  assert.equal(typeof value, 'string', `${where} is a string`);
  return value as string;
}

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Yaml;
  env?: Yaml;
  'working-directory'?: string;
}

function steps(job: Yaml, where: string): Step[] {
  return list(job.steps, `${where}.steps`).map((s, i) => map(s, `${where}.steps[${i}]`) as Step);
}
function stepUsing(all: Step[], action: string): { step: Step; index: number } {
  const index = all.findIndex((s) => s.uses?.startsWith(`${action}@`));
  assert.ok(index >= 0, `a step uses ${action}`);
  return { step: all[index]!, index };
}
function stepRunning(all: Step[], command: string): { step: Step; index: number } {
  const index = all.findIndex((s) => s.run?.includes(command));
  assert.ok(index >= 0, `a step runs ${command}`);
  return { step: all[index]!, index };
}

/** The long option names a cairn sub-command really accepts (from the commander definitions). */
function cliOptions(register: (program: Command) => void, path: string[]): Set<string> {
  const program = new Command();
  register(program);
  let command: Command = program;
  for (const name of path) {
    const next = command.commands.find((c) => c.name() === name);
    assert.ok(next, `cairn ${path.join(' ')} exists`);
    command = next;
  }
  return new Set(command.options.map((o) => o.long).filter((l): l is string => l !== undefined));
}

/** `--flag` tokens on the line(s) that invoke `cairn <sub>` and on `args` arrays feeding it. */
function flagsUsed(script: string): string[] {
  return [...script.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!).filter((f) => f !== '--no' && f !== '--omit' && f !== '--no-audit' && f !== '--no-fund');
}

const builder = map(parse(text(GITHUB_BUILDER)), GITHUB_BUILDER);
const caller = map(parse(text(GITHUB_CALLER)), GITHUB_CALLER);

describe('GitHub reusable builder workflow', () => {
  const call = map(map(builder.on, 'on').workflow_call, 'on.workflow_call');
  const inputs = map(call.inputs, 'workflow_call.inputs');
  const outputs = map(call.outputs, 'workflow_call.outputs');
  const jobs = map(builder.jobs, 'jobs');
  const build = map(jobs.build, 'jobs.build');
  const buildSteps = steps(build, 'jobs.build');

  test('is only callable (workflow_call), not triggered on its own', () => {
    assert.deepEqual(Object.keys(map(builder.on, 'on')), ['workflow_call']);
  });

  const inputCases: [string, boolean][] = [
    ['repository', true],
    ['commit', true],
    ['index-url', false],
    ['python-version', false],
    ['subdirectory', false],
  ];
  for (const [name, required] of inputCases) {
    test(`input ${name}: string, ${required ? 'required' : 'optional'}`, () => {
      const input = map(inputs[name], `inputs.${name}`);
      assert.equal(input.type, 'string');
      assert.equal(input.required, required);
      if (!required) assert.ok('default' in input, `optional input ${name} has a default`);
    });
  }

  test('asks for id-token: write and contents: read, nothing more', () => {
    assert.deepEqual(builder.permissions, { 'id-token': 'write', contents: 'read' });
    assert.equal(build.permissions, undefined, 'the job inherits the workflow permissions');
  });

  test('cairn build is given the repository and commit inputs', () => {
    const { step } = stepRunning(buildSteps, 'cairn build');
    const env = map(step.env, 'build step env');
    assert.equal(env.REPOSITORY, '${{ inputs.repository }}');
    assert.equal(env.COMMIT, '${{ inputs.commit }}');
    assert.equal(env.INDEX_URL, '${{ inputs.index-url }}');
    assert.equal(env.SUBDIRECTORY, '${{ inputs.subdirectory }}');
    const run = str(step.run, 'build step run');
    assert.match(run, /--repo "\$\{GITHUB_SERVER_URL\}\/\$\{REPOSITORY\}"/);
    assert.match(run, /--commit "\$\{COMMIT\}"/);
    assert.match(run, /--index "\$\{INDEX_URL\}"/);
    assert.match(run, /--subdir "\$\{SUBDIRECTORY\}"/);
    assert.match(run, /--out "\$\{GITHUB_WORKSPACE\}\/dist"/);
    // The bundles ride in the same artifact, in a folder of their own (dist/ stays distributions).
    assert.match(run, /--provenance-out "\$\{GITHUB_WORKSPACE\}\/dist\/provenance"/);
    assert.equal(step['working-directory'], '.cairn', 'runs the checked-out cairn, not a registry package');
  });

  test('every flag it passes to cairn build exists in the CLI', () => {
    const known = cliOptions(registerBuild, ['build']);
    const { step } = stepRunning(buildSteps, 'cairn build');
    const used = flagsUsed(str(step.run, 'run'));
    assert.ok(used.length >= 4);
    for (const flag of used) assert.ok(known.has(flag), `cairn build knows ${flag}`);
  });

  test('the python-version input reaches setup-python and the build runs that interpreter', () => {
    const { step: python, index: pythonIndex } = stepUsing(buildSteps, 'actions/setup-python');
    assert.equal(map(python.with, 'setup-python.with')['python-version'], '${{ inputs.python-version }}');
    const { step: buildStep, index: buildIndex } = stepRunning(buildSteps, 'cairn build');
    assert.equal(map(buildStep.env, 'env').CAIRN_PYTHON, `\${{ steps.${python.id}.outputs.python-path }}`);
    assert.ok(pythonIndex < buildIndex);
  });

  test('checks the inputs against the calling run before building', () => {
    const { step, index } = stepRunning(buildSteps, 'CALLER_SHA');
    const env = map(step.env, 'env');
    assert.equal(env.CALLER_SHA, '${{ github.sha }}');
    assert.equal(env.CALLER_REPOSITORY, '${{ github.repository }}');
    assert.ok(index < stepRunning(buildSteps, 'cairn build').index);
  });

  test('runs the cairn of its own commit (job.workflow_sha)', () => {
    const { step, index } = stepUsing(buildSteps, 'actions/checkout');
    const withs = map(step.with, 'checkout.with');
    assert.equal(withs.repository, '${{ job.workflow_repository }}');
    assert.equal(withs.ref, '${{ job.workflow_sha }}');
    assert.equal(withs.path, '.cairn');
    assert.equal(withs['persist-credentials'], false);
    assert.ok(index < stepRunning(buildSteps, 'cairn build').index);
    assert.equal(map(build.outputs, 'build.outputs')['cairn-commit'], '${{ job.workflow_sha }}');
  });

  test('hands the distributions back under the artifact name it outputs', () => {
    const { step: upload, index: uploadIndex } = stepUsing(buildSteps, 'actions/upload-artifact');
    const withs = map(upload.with, 'upload-artifact.with');
    const handoff = buildSteps.find((s) => s.id === 'handoff');
    assert.ok(handoff, 'a step with id handoff');
    assert.equal(withs.name, '${{ steps.handoff.outputs.artifact-name }}');
    assert.equal(withs.path, 'dist/', 'uploads the directory cairn build wrote (--out $GITHUB_WORKSPACE/dist)');
    assert.equal(withs['if-no-files-found'], 'error');
    assert.equal(map(build.outputs, 'build.outputs')['artifact-name'], '${{ steps.handoff.outputs.artifact-name }}');
    assert.equal(map(outputs['artifact-name'], 'outputs.artifact-name').value, '${{ jobs.build.outputs.artifact-name }}');
    assert.ok(uploadIndex > stepRunning(buildSteps, 'cairn build').index);
  });

  test('every workflow output is a job output', () => {
    const jobOutputs = map(build.outputs, 'build.outputs');
    for (const [name, output] of Object.entries(outputs)) {
      const value = str(map(output, `outputs.${name}`).value, `outputs.${name}.value`);
      const match = /^\$\{\{ jobs\.build\.outputs\.([a-z0-9-]+) \}\}$/.exec(value);
      assert.ok(match, `outputs.${name} reads a build job output`);
      assert.ok(match[1]! in jobOutputs, `jobs.build.outputs.${match[1]} exists`);
    }
  });

  test('never expands inputs inside a shell script (script injection)', () => {
    for (const step of buildSteps) {
      if (step.run) assert.doesNotMatch(step.run, /\$\{\{\s*(inputs|github)\./, `step ${step.name ?? step.id}`);
    }
  });

  test('does not cache dependencies between runs', () => {
    const { step } = stepUsing(buildSteps, 'actions/setup-node');
    assert.equal(map(step.with, 'setup-node.with')['package-manager-cache'], false);
    assert.equal(map(step.with, 'setup-node.with').cache, undefined);
  });
});

describe('third-party actions are pinned by commit', () => {
  for (const file of [GITHUB_BUILDER, GITHUB_CALLER]) {
    test(file, () => {
      const lines = text(file).split('\n').filter((l) => /^\s*(-\s+)?uses:/.test(l));
      assert.ok(lines.length >= 3);
      for (const line of lines) {
        if (line.includes('/.github/workflows/')) continue; // the builder itself: by tag, on purpose
        assert.match(line, /uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, line.trim());
      }
    });
  }
});

describe('GitHub caller example', () => {
  const jobs = map(caller.jobs, 'jobs');
  const build = map(jobs.build, 'jobs.build');
  const publish = map(jobs.publish, 'jobs.publish');
  const publishSteps = steps(publish, 'jobs.publish');
  const builderInputs = map(map(map(builder.on, 'on').workflow_call, 'workflow_call').inputs, 'inputs');
  const builderOutputs = map(map(map(builder.on, 'on').workflow_call, 'workflow_call').outputs, 'outputs');

  test('calls the reusable builder with this run\'s repository and sha', () => {
    assert.match(str(build.uses, 'build.uses'), /^[\w.-]+\/[\w.-]+\/\.github\/workflows\/cairn-build\.yml@v\d+\.\d+\.\d+$/);
    const withs = map(build.with, 'build.with');
    assert.equal(withs.repository, '${{ github.repository }}');
    assert.equal(withs.commit, '${{ github.sha }}');
    assert.deepEqual(build.permissions, { 'id-token': 'write', contents: 'read' });
  });

  test('passes only inputs the builder declares, and all it requires', () => {
    const withs = map(build.with, 'build.with');
    for (const name of Object.keys(withs)) assert.ok(name in builderInputs, `the builder declares input ${name}`);
    for (const [name, input] of Object.entries(builderInputs)) {
      if (map(input, name).required === true) assert.ok(name in withs, `the caller passes required input ${name}`);
    }
  });

  test('publishes after the build, with its own OIDC token', () => {
    assert.deepEqual(publish.needs, ['build']);
    assert.equal(map(publish.permissions, 'publish.permissions')['id-token'], 'write');
    assert.deepEqual(caller.permissions, {}, 'no default permissions for the workflow');
  });

  test('downloads the artifact the builder uploaded, checks it, then publishes it', () => {
    const { step: download, index: downloadIndex } = stepUsing(publishSteps, 'actions/download-artifact');
    const withs = map(download.with, 'download-artifact.with');
    assert.equal(withs.name, '${{ needs.build.outputs.artifact-name }}');
    assert.equal(withs.path, 'dist');
    assert.ok('artifact-name' in builderOutputs);
    const { step: check, index: checkIndex } = stepRunning(publishSteps, 'sha256sum --check');
    assert.equal(map(check.env, 'check.env').SHA256SUMS, '${{ needs.build.outputs.sha256sums }}');
    assert.equal(check['working-directory'], 'dist');
    const { step: upload, index: publishIndex } = stepRunning(publishSteps, 'cairn publish');
    assert.ok(downloadIndex < checkIndex && checkIndex < publishIndex);
    const run = str(upload.run, 'publish run');
    assert.match(run, /"\$\{GITHUB_WORKSPACE\}"\/dist\/\*\.whl/);
    assert.match(run, /"\$\{GITHUB_WORKSPACE\}"\/dist\/\*\.tar\.gz/);
    assert.doesNotMatch(run, /--token/, 'trusted publishing, not a stored token');
  });

  test('publishes to the index the provenance was submitted to', () => {
    const { step } = stepRunning(publishSteps, 'cairn publish');
    const index = /--index (\S+)/.exec(str(step.run, 'run'))?.[1];
    assert.equal(index, map(build.with, 'with')['index-url']);
  });

  test('every flag it passes to cairn publish exists in the CLI', () => {
    const known = cliOptions(registerPublish, ['publish']);
    const { step } = stepRunning(publishSteps, 'cairn publish');
    const used = flagsUsed(str(step.run, 'run'));
    assert.deepEqual(used.sort(), ['--attest', '--index', '--require-provenance', '--stage', '--wait']);
    assert.match(str(step.run, 'run'), /--stage --require-provenance build/, 'staged: nothing public without build provenance');
    for (const flag of used) assert.ok(known.has(flag), `cairn publish knows ${flag}`);
  });

  test('every needs.build output it reads is declared by the builder', () => {
    const references = [...text(GITHUB_CALLER).matchAll(/needs\.build\.outputs\.([a-z0-9-]+)/g)].map((m) => m[1]!);
    assert.ok(references.length >= 4);
    for (const name of references) assert.ok(name in builderOutputs, `the builder outputs ${name}`);
  });

  test('a trusted publisher for the caller\'s workflow file accepts tokens from both jobs', () => {
    // Inside the reusable workflow the token's workflow_ref is still the caller's; only
    // job_workflow_ref names the builder. The publisher is registered for the caller's file.
    const publisher: TrustedPublisher = {
      id: 1, projectId: 1, projectName: 'demo', pending: false, createdAt: '2026-01-01T00:00:00Z', environment: 'release',
      kind: 'github', issuer: GITHUB_OIDC_ISSUER, repository: 'octo/demo', workflow: 'release.yml',
    };
    const common = {
      sub: 'repo:octo/demo:environment:release',
      repository: 'octo/demo',
      workflow_ref: 'octo/demo/.github/workflows/release.yml@refs/tags/v1.2.0',
      ref: 'refs/tags/v1.2.0',
      sha: 'a'.repeat(40),
      environment: 'release',
    };
    const fromPublishJob = { ...common, job_workflow_ref: common.workflow_ref };
    const fromBuilderJob = { ...common, job_workflow_ref: `${str(build.uses, 'uses').replace('@', '@refs/tags/')}` };
    assert.equal(publisherClaimMismatch(publisher, GITHUB_OIDC_ISSUER, fromPublishJob), null);
    assert.equal(publisherClaimMismatch(publisher, GITHUB_OIDC_ISSUER, fromBuilderJob), null);
    const otherWorkflow = { ...common, workflow_ref: 'octo/demo/.github/workflows/ci.yml@refs/tags/v1.2.0' };
    assert.match(publisherClaimMismatch(publisher, GITHUB_OIDC_ISSUER, otherWorkflow) ?? '', /workflow 'ci\.yml'/);
  });
});

describe('GitLab CI template', () => {
  const documents = parseAllDocuments(text(GITLAB_TEMPLATE));
  test('is a spec header and a pipeline, both valid YAML', () => {
    assert.ok(Array.isArray(documents) && documents.length === 2);
    for (const d of documents) assert.deepEqual(d.errors, []);
  });
  const [header, body] = Array.isArray(documents) ? documents.map((d) => map(d.toJS(), 'document')) : [{}, {}];
  const inputs = map(map(header!.spec, 'spec').inputs, 'spec.inputs');
  const pipeline = body!;
  const build = map(pipeline['cairn-build'], 'cairn-build');
  const publish = map(pipeline['cairn-publish'], 'cairn-publish');
  const install = map(pipeline['.cairn-install'], '.cairn-install');

  test('index-url and cairn-commit are required inputs; the cairn commit must be a full SHA', () => {
    assert.equal(map(inputs['index-url'], 'index-url').default, undefined);
    const commit = map(inputs['cairn-commit'], 'cairn-commit');
    assert.equal(commit.default, undefined);
    const pattern = new RegExp(str(commit.regex, 'regex'));
    assert.ok(pattern.test('0123456789abcdef0123456789abcdef01234567'));
    assert.ok(!pattern.test('v1.0.0'));
    assert.ok(!pattern.test('0123456'));
  });

  test('the build job signs with an id_token whose audience is sigstore', () => {
    assert.deepEqual(build.id_tokens, { SIGSTORE_ID_TOKEN: { aud: 'sigstore' } });
  });

  test('the publish job gets a token for the index\'s audience, and one for signing attestations', () => {
    const tokens = map(publish.id_tokens, 'cairn-publish.id_tokens');
    assert.deepEqual(tokens.CAIRN_ID_TOKEN, { aud: '$[[ inputs.index-audience ]]' });
    assert.deepEqual(tokens.SIGSTORE_ID_TOKEN, { aud: 'sigstore' });
    assert.equal(map(inputs['index-audience'], 'index-audience').default, DEFAULT_OIDC_AUDIENCE);
  });

  test('cairn reads the id_tokens variables the template declares', async () => {
    const env = { SIGSTORE_ID_TOKEN: 'signing-jwt', CAIRN_ID_TOKEN: 'publishing-jwt' };
    assert.equal((await obtainOidcToken({ audience: 'sigstore', env })).token, 'signing-jwt');
    assert.equal((await obtainOidcToken({ audience: DEFAULT_OIDC_AUDIENCE, env })).token, 'publishing-jwt');
    assert.equal((await obtainOidcToken({ audience: 'sigstore', env: { SIGSTORE_ID_TOKEN: 'only' } })).source, 'GitLab variable SIGSTORE_ID_TOKEN');
  });

  test('builds the pipeline\'s own project at the pipeline\'s commit', () => {
    const script = list(build.script, 'cairn-build.script').map((l) => str(l, 'line')).join('\n');
    assert.match(script, /--repo "\$\{CI_REPOSITORY_URL\}"/);
    assert.match(script, /--source-uri "\$\{CI_PROJECT_URL\}"/);
    assert.match(script, /--commit "\$\{CI_COMMIT_SHA\}"/);
    assert.match(script, /--index "\$\{CAIRN_INDEX_URL\}"/);
    assert.match(script, /--out "\$\{CI_PROJECT_DIR\}\/dist"/);
    assert.match(script, /--provenance-out "\$\{CI_PROJECT_DIR\}\/dist\/provenance"/);
    assert.match(script, /npx --no -- cairn build/);
    assert.equal(map(install.variables, 'variables').CAIRN_INDEX_URL, '$[[ inputs.index-url ]]');
    const known = cliOptions(registerBuild, ['build']);
    for (const flag of flagsUsed(script.slice(script.indexOf('set -- --repo')))) assert.ok(known.has(flag), `cairn build knows ${flag}`);
  });

  test('hands dist/ over as artifacts; publish needs them and publishes them', () => {
    const artifacts = map(build.artifacts, 'cairn-build.artifacts');
    assert.deepEqual(artifacts.paths, ['dist/']);
    assert.deepEqual(publish.needs, [{ job: 'cairn-build', artifacts: true }]);
    const script = list(publish.script, 'cairn-publish.script').map((l) => str(l, 'line')).join('\n');
    assert.ok(script.indexOf('sha256sum --check') < script.indexOf('cairn publish'));
    assert.match(script, /"\$\{CI_PROJECT_DIR\}"\/dist\/\*\.whl "\$\{CI_PROJECT_DIR\}"\/dist\/\*\.tar\.gz/);
    const known = cliOptions(registerPublish, ['publish']);
    const used = flagsUsed(script.slice(script.indexOf('set -- --index')));
    assert.deepEqual([...new Set(used)].sort(), ['--attest', '--index', '--require-provenance', '--stage', '--wait']);
    assert.match(script, /--stage --require-provenance build/, 'staged: nothing public without build provenance');
    for (const flag of used) assert.ok(known.has(flag), `cairn publish knows ${flag}`);
  });

  test('build runs in a stage before publish', () => {
    const defaultStages = ['.pre', 'build', 'test', 'deploy', '.post'];
    assert.equal(build.stage, '$[[ inputs.build-stage ]]');
    assert.equal(publish.stage, '$[[ inputs.publish-stage ]]');
    const buildStage = map(inputs['build-stage'], 'build-stage').default as string;
    const publishStage = map(inputs['publish-stage'], 'publish-stage').default as string;
    assert.ok(defaultStages.indexOf(buildStage) >= 0 && defaultStages.indexOf(buildStage) < defaultStages.indexOf(publishStage));
  });

  test('both jobs install the pinned cairn and run only for tags', () => {
    assert.equal(build.extends, '.cairn-install');
    assert.equal(publish.extends, '.cairn-install');
    assert.equal(map(install.variables, 'variables').CAIRN_SOURCE_COMMIT, '$[[ inputs.cairn-commit ]]');
    const before = list(install.before_script, 'before_script').join('\n');
    assert.match(before, /checkout --quiet --detach "\$\{CAIRN_SOURCE_COMMIT\}"/);
    assert.deepEqual(install.rules, [{ if: '$CI_COMMIT_TAG' }]);
  });

  test('every interpolated input is declared, and every declared input is used', () => {
    const used = new Set([...text(GITLAB_TEMPLATE).split('\n---\n')[1]!.matchAll(/\$\[\[ inputs\.([a-z0-9-]+) \]\]/g)].map((m) => m[1]!));
    assert.deepEqual([...used].sort(), Object.keys(inputs).sort());
  });
});

describe('docs/integrations.md', () => {
  const doc = text('docs/integrations.md');
  test('registers publishers with flags cairn admin publisher add accepts', () => {
    const known = cliOptions(registerAdmin, ['admin', 'publisher', 'add']);
    const commands = doc.split('\n').filter((l) => l.includes('cairn admin publisher add'));
    assert.ok(commands.length >= 2, 'GitHub and GitLab examples');
    for (const line of commands) {
      for (const flag of flagsUsed(line)) assert.ok(known.has(flag), `cairn admin publisher add knows ${flag}: ${line}`);
    }
  });
});
