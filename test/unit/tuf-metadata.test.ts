import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, type Targets } from '@tufjs/models';
import { CairnError } from '../../src/errors.ts';
import { canonicalJson } from '../../src/tuf/canonical-json.ts';
import { DEFAULT_EXPIRY_POLICY, needsRenewal, tufExpiry } from '../../src/tuf/expiry.ts';
import { binOf, hashedBinLayout, slotOf, targetPathHash } from '../../src/tuf/hashed-bins.ts';
import { generateTufKey, storedTufKey, tufKeyFromStored, tufKeyIdOf } from '../../src/tuf/keys.ts';
import {
  buildBinsRole,
  distributionTarget,
  distributionTargetPath,
  parseRootMetadata,
  parseSnapshotMetadata,
  parseTargetsMetadata,
  parseTimestampMetadata,
  signMetadata,
  type TargetEntry,
} from '../../src/tuf/metadata.ts';
import { updateRepository, type TufKeyring, type TufUpdateResult } from '../../src/tuf/repository-update.ts';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const T0 = new Date('2030-01-01T00:00:00Z');

function fileFacts(name: string) {
  const bytes = Buffer.from(name);
  return {
    filename: name,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    blake2b256: createHash('blake2b512').update(bytes).digest('hex').slice(0, 64),
  };
}

function keyring(): Required<TufKeyring> {
  return { root: generateTufKey(), targets: generateTufKey(), bins: generateTufKey(), online: generateTufKey() };
}

/** Every bin of a layout with its full target list, the way the repository service reads them. */
function binTargetsOf(count: number, names: string[]) {
  const layout = hashedBinLayout(count);
  const bins = new Map<string, TargetEntry[]>(layout.bins.map((b) => [b.name, []]));
  for (const name of names) {
    const target = distributionTarget(fileFacts(name));
    bins.get(binOf(layout, target.path).name)!.push(target);
  }
  return { layout, bits: layout.bits, bins };
}

function file(result: TufUpdateResult, name: string): Buffer {
  const found = result.files.find((f) => f.name === name);
  assert.ok(found, `${name} written (got ${result.files.map((f) => f.name).join(', ')})`);
  return found.bytes;
}

describe('canonical JSON', () => {
  test('is byte for byte what the reference canonicaliser (@tufjs/canonical-json) produces', () => {
    const sample = {
      z: 1,
      a: ['x', { q: true, b: null, 'quote"and\\slash': 'é ☃ \u0001' }],
      m: { nested: { deeper: [1, 2, 3] } },
      '': '',
    };
    assert.equal(canonicalJson(sample), canonicalize(sample));
    const bigBin: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) bigBin[`files/${randomBytes(32).toString('hex')}/p_${i}-1.0.tar.gz`] = { length: i, hashes: { sha256: randomBytes(32).toString('hex') } };
    assert.equal(canonicalJson({ targets: bigBin }), canonicalize({ targets: bigBin }));
  });

  test('refuses floats, as TUF canonical JSON has none', () => {
    assert.throws(() => canonicalJson({ a: 1.5 }), (e: unknown) => e instanceof CairnError);
  });
});

describe('hashed bins', () => {
  test('layouts cover every slot exactly once, with PEP 458 style bin-n names', () => {
    assert.deepEqual(
      hashedBinLayout(16).bins.map((b) => b.name),
      [...'0123456789abcdef'].map((c) => `bin-${c}`),
    );
    const big = hashedBinLayout(256);
    assert.equal(big.bins[0]!.name, 'bin-00');
    assert.equal(big.bins[255]!.name, 'bin-ff');
    for (const count of [2, 16, 32, 256, 4096, 65536]) {
      const layout = hashedBinLayout(count);
      let next = 0;
      for (const bin of layout.bins) {
        assert.equal(bin.firstSlot, next, `${count} bins: no gap and no overlap`);
        next = bin.lastSlot + 1;
      }
      assert.equal(next, 65536, `${count} bins cover the slot space`);
    }
    assert.deepEqual(hashedBinLayout(32).bins.map((b) => b.name).slice(0, 3), ['bin-00', 'bin-01', 'bin-02']);
    assert.equal(hashedBinLayout(2048).bins[2047]!.name, 'bin-7ff');
  });

  test('bin counts that are not a power of two (or out of range) are refused', () => {
    for (const bad of [0, 1, 3, 100, 16 ** 4 * 2, 1.5]) {
      assert.throws(() => hashedBinLayout(bad), (e: unknown) => e instanceof CairnError && e.code === 'config.invalid', String(bad));
    }
  });

  test("a target lands in the one bin a TUF client's succinct-roles walk selects", () => {
    const key = generateTufKey();
    for (const count of [2, 16, 32, 256, 2048]) {
      const layout = hashedBinLayout(count);
      const bins = parseTargetsMetadata(signMetadata(buildBinsRole({ version: 1, expires: tufExpiry(T0, 1000), bits: layout.bits, binKey: key }), [key]));
      for (let i = 0; i < 300; i++) {
        const path = distributionTargetPath(randomBytes(32).toString('hex'), `pkg_${i}-1.0-py3-none-any.whl`);
        const selected = [...bins.signed.delegations!.rolesForTarget(path)].map((r) => r.role);
        assert.deepEqual(selected, [binOf(layout, path).name], `${count} bins, ${path}`);
      }
    }
    assert.equal(targetPathHash('files/x/y.whl'), createHash('sha256').update('files/x/y.whl').digest('hex'));
    assert.equal(slotOf('files/x/y.whl'), parseInt(targetPathHash('files/x/y.whl').slice(0, 4), 16));
  });
});

describe('keys', () => {
  test('the key ID is the SHA-256 of the canonical JSON public key object (TUF §4.2)', () => {
    const key = generateTufKey();
    const canonical = JSON.stringify({ keytype: 'ed25519', keyval: { public: key.publicHex }, scheme: 'ed25519' });
    assert.equal(key.keyId, createHash('sha256').update(canonical).digest('hex'));
    assert.equal(tufKeyIdOf(key.publicHex), key.keyId);
    assert.match(key.publicHex, /^[0-9a-f]{64}$/);
  });

  test('a stored key reads back to the same key; a tampered key ID is refused', () => {
    const key = generateTufKey();
    const stored = storedTufKey(key);
    assert.equal(tufKeyFromStored(JSON.parse(JSON.stringify(stored)), 'k').keyId, key.keyId);
    assert.throws(
      () => tufKeyFromStored({ ...stored, keyid: generateTufKey().keyId }, 'k'),
      (e: unknown) => e instanceof CairnError && e.code === 'config.invalid',
    );
    assert.throws(() => tufKeyFromStored({ keytype: 'rsa' }, 'k'), (e: unknown) => e instanceof CairnError && e.code === 'config.invalid');
  });
});

describe('repository metadata', () => {
  const names = ['alpha-1.0-py3-none-any.whl', 'alpha-1.0.tar.gz', 'beta-2.0-py3-none-any.whl'];
  const policy = DEFAULT_EXPIRY_POLICY;

  test('a new repository: every role at version 1, signed by the keys root names, with PEP 458 expiries', () => {
    const keys = keyring();
    const { layout, bits, bins } = binTargetsOf(16, names);
    const result = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });

    const root = parseRootMetadata(file(result, '1.root.json'));
    assert.deepEqual(parseRootMetadata(file(result, 'root.json')).signed.toJSON(), root.signed.toJSON());
    const timestamp = parseTimestampMetadata(file(result, 'timestamp.json'));
    const snapshotBytes = file(result, '1.snapshot.json');
    const snapshot = parseSnapshotMetadata(snapshotBytes);
    const targets = parseTargetsMetadata(file(result, '1.targets.json'));
    const binsRole = parseTargetsMetadata(file(result, '1.bins.json'));
    assert.equal(result.files.at(-1)!.name, 'timestamp.json', 'timestamp.json is written last');
    assert.equal(result.files[0]!.name, '1.root.json', 'the versioned root comes first');

    root.verifyDelegate('root', root);
    root.verifyDelegate('timestamp', timestamp);
    root.verifyDelegate('snapshot', snapshot);
    root.verifyDelegate('targets', targets);
    targets.verifyDelegate('bins', binsRole);
    assert.equal(root.signed.consistentSnapshot, true);
    assert.deepEqual(root.signed.roles.root!.keyIDs, [keys.root.keyId]);
    assert.deepEqual(root.signed.roles.timestamp!.keyIDs, [keys.online.keyId]);
    assert.deepEqual(root.signed.roles.snapshot!.keyIDs, [keys.online.keyId]);
    assert.deepEqual(root.signed.roles.targets!.keyIDs, [keys.targets.keyId]);
    for (const role of Object.values(root.signed.roles)) assert.equal(role.threshold, 1);
    assert.deepEqual(targets.signed.delegations!.roles!.bins!.paths, ['files/*/*', 'simple/*/*']);
    assert.equal(binsRole.signed.delegations!.succinctRoles!.bitLength, 4);

    assert.equal(root.signed.expires, '2031-01-01T00:00:00Z');
    assert.equal(targets.signed.expires, '2031-01-01T00:00:00Z');
    assert.equal(binsRole.signed.expires, '2031-01-01T00:00:00Z');
    assert.equal(snapshot.signed.expires, '2030-01-08T00:00:00Z');
    assert.equal(timestamp.signed.expires, '2030-01-02T00:00:00Z');

    assert.equal(timestamp.signed.snapshotMeta.version, 1);
    assert.equal(timestamp.signed.snapshotMeta.length, snapshotBytes.length);
    assert.deepEqual(timestamp.signed.snapshotMeta.hashes, { sha256: createHash('sha256').update(snapshotBytes).digest('hex') });
    assert.deepEqual(Object.keys(snapshot.signed.meta).sort(), ['bins.json', 'targets.json', ...layout.bins.map((b) => `${b.name}.json`)].sort());

    let listed = 0;
    for (const bin of layout.bins) {
      const binRole = parseTargetsMetadata(file(result, `1.${bin.name}.json`));
      binsRole.verifyDelegate(bin.name, binRole);
      assert.equal(binRole.signed.expires, '2031-01-01T00:00:00Z');
      for (const path of Object.keys(binRole.signed.targets)) assert.equal(binOf(layout, path).name, bin.name);
      listed += Object.keys(binRole.signed.targets).length;
    }
    assert.equal(listed, names.length);

    const facts = fileFacts(names[0]!);
    const path = `files/${facts.sha256}/${facts.filename}`;
    const target = parseTargetsMetadata(file(result, `1.${binOf(layout, path).name}.json`)).signed.targets[path]!;
    assert.equal(target.length, facts.size);
    assert.deepEqual(target.hashes, { sha256: facts.sha256 });
    assert.deepEqual(target.custom, { blake2b_256: facts.blake2b256 });
  });

  test('a new file re-signs only its bin, the snapshot and the timestamp, each one version up', () => {
    const keys = keyring();
    const { layout, bits, bins } = binTargetsOf(16, names);
    const first = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });
    const added = distributionTarget(fileFacts('gamma-3.0-py3-none-any.whl'));
    const binName = binOf(layout, added.path).name;
    const later = new Date(T0.getTime() + HOUR);
    const current = bins.get(binName)!;
    const second = updateRepository(first.state, { now: later, policy, bits, keys, binTargets: new Map([[binName, [...current, added]]]) });
    assert.deepEqual(second.files.map((f) => f.name), [`2.${binName}.json`, '2.snapshot.json', 'timestamp.json']);
    assert.deepEqual(second.changed.binRoles, [binName]);
    const snapshot = parseSnapshotMetadata(file(second, '2.snapshot.json'));
    assert.equal(snapshot.signed.meta[`${binName}.json`]!.version, 2);
    for (const bin of layout.bins.filter((b) => b.name !== binName)) assert.equal(snapshot.signed.meta[`${bin.name}.json`]!.version, 1);
    assert.equal(parseTimestampMetadata(file(second, 'timestamp.json')).signed.version, 2);

    // Nothing changed and nothing is due: nothing is written.
    const third = updateRepository(second.state, { now: later, policy, bits, keys, binTargets: new Map() });
    assert.deepEqual(third.files, []);
    // The same contents handed in again, in another order, is no change either.
    const again = updateRepository(second.state, { now: later, policy, bits, keys, binTargets: new Map([[binName, [added, ...current].reverse()]]) });
    assert.deepEqual(again.files, []);
  });

  test('timestamp is renewed past half its lifetime, snapshot past half of its week', () => {
    const keys = keyring();
    const { bits, bins } = binTargetsOf(16, names);
    const first = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });
    const at = (ms: number) => new Date(T0.getTime() + ms);
    assert.deepEqual(updateRepository(first.state, { now: at(11 * HOUR), policy, bits, keys, binTargets: new Map() }).files, []);

    const renewed = updateRepository(first.state, { now: at(13 * HOUR), policy, bits, keys, binTargets: new Map() });
    assert.deepEqual(renewed.files.map((f) => f.name), ['timestamp.json']);
    const timestamp = parseTimestampMetadata(file(renewed, 'timestamp.json'));
    assert.equal(timestamp.signed.version, 2);
    assert.equal(timestamp.signed.expires, '2030-01-02T13:00:00Z');
    const firstTimestamp = parseTimestampMetadata(file(first, 'timestamp.json'));
    assert.deepEqual(timestamp.signed.snapshotMeta.toJSON(), firstTimestamp.signed.snapshotMeta.toJSON(), 'same snapshot pinned');
    parseRootMetadata(file(first, 'root.json')).verifyDelegate('timestamp', timestamp);

    const weekly = updateRepository(renewed.state, { now: at(4 * DAY), policy, bits, keys, binTargets: new Map() });
    assert.deepEqual(weekly.files.map((f) => f.name), ['2.snapshot.json', 'timestamp.json']);
    assert.equal(weekly.state.snapshot.expires, '2030-01-12T00:00:00Z');

    assert.equal(needsRenewal('2030-01-02T00:00:00Z', at(11 * HOUR), 24 * 3600), false);
    assert.equal(needsRenewal('2030-01-02T00:00:00Z', at(13 * HOUR), 24 * 3600), true);
  });

  test('with root, targets and bins keys offline uploads still publish; renewing or re-laying an offline role warns, changing its key fails', () => {
    const keys = keyring();
    const { layout, bits, bins } = binTargetsOf(16, names);
    const first = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });
    const onlineOnly: TufKeyring = { online: keys.online };
    const added = distributionTarget(fileFacts('delta-1.0.tar.gz'));
    const binName = binOf(layout, added.path).name;
    bins.get(binName)!.push(added);
    const second = updateRepository(first.state, { now: T0, policy, bits, keys: onlineOnly, binTargets: new Map([[binName, bins.get(binName)!]]) });
    assert.deepEqual(second.files.map((f) => f.name), [`2.${binName}.json`, '2.snapshot.json', 'timestamp.json']);
    parseTargetsMetadata(file(first, '1.bins.json')).verifyDelegate(binName, parseTargetsMetadata(file(second, `2.${binName}.json`)));

    // 200 days on: root, targets and bins are past half their year (warnings); every bin-n is too,
    // and the online key renews those.
    const late = new Date(T0.getTime() + 200 * DAY);
    const warned = updateRepository(second.state, { now: late, policy, bits, keys: onlineOnly, binTargets: bins });
    assert.equal(warned.warnings.length, 3, warned.warnings.join('\n'));
    assert.match(warned.warnings.join('\n'), /root.*offline root key/);
    assert.ok(!warned.files.some((f) => /root|targets|\.bins\./.test(f.name)));
    assert.ok(warned.files.some((f) => f.name === 'timestamp.json'));
    assert.equal(warned.changed.binRoles.length, 16, 'the online key renews every bin-n');

    // A new layout needs the bins key: without it the published layout stays, with a warning.
    const kept = updateRepository(second.state, { now: T0, policy, bits: 5, keys: onlineOnly, binTargets: new Map() });
    assert.equal(kept.state.bins.bits, 4);
    assert.match(kept.warnings.join('\n'), /keeps 16 bins: changing to 32 needs the offline bins key/);
    assert.throws(
      () => updateRepository(second.state, { now: T0, policy, bits, keys: { online: generateTufKey() }, binTargets: new Map() }),
      (e: unknown) => e instanceof CairnError && e.code === 'config.invalid' && /root/.test(e.message),
    );
  });

  test('a new online key with root and bins keys at hand: new root version signed by the same root key, all bins re-signed', () => {
    const keys = keyring();
    const { bits, bins } = binTargetsOf(16, names);
    const first = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });
    const rotated = { ...keys, online: generateTufKey() };
    const second = updateRepository(first.state, { now: T0, policy, bits, keys: rotated, binTargets: bins });
    const root1 = parseRootMetadata(file(first, '1.root.json'));
    const root2 = parseRootMetadata(file(second, '2.root.json'));
    const timestamp2 = parseTimestampMetadata(file(second, 'timestamp.json'));
    root1.verifyDelegate('root', root2);
    root2.verifyDelegate('timestamp', timestamp2);
    assert.throws(() => root1.verifyDelegate('timestamp', timestamp2));
    assert.equal(second.changed.binRoles.length, 16);
    const binsRole = parseTargetsMetadata(file(second, '2.bins.json'));
    for (const name of second.changed.binRoles) binsRole.verifyDelegate(name, parseTargetsMetadata(file(second, `2.${name}.json`)));
  });

  test('changing the number of bins keeps the old bins listed in snapshot, so returning clients accept it', () => {
    const keys = keyring();
    const sixteen = binTargetsOf(16, names);
    const first = updateRepository(null, { now: T0, policy, bits: sixteen.bits, keys, binTargets: sixteen.bins });
    const big = binTargetsOf(256, names);
    const second = updateRepository(first.state, { now: T0, policy, bits: big.bits, keys, binTargets: big.bins });
    const snapshot = parseSnapshotMetadata(file(second, '2.snapshot.json')).signed.meta;
    for (const name of Object.keys(parseSnapshotMetadata(file(first, '1.snapshot.json')).signed.meta)) assert.ok(snapshot[name], `${name} still listed`);
    assert.equal(snapshot['bins.json']!.version, 2);
    assert.equal(snapshot['bin-00.json']!.version, 1);
    assert.equal(second.changed.binRoles.length, 256);
    assert.equal(parseTargetsMetadata(file(second, '2.bins.json')).signed.delegations!.succinctRoles!.bitLength, 8);
  });

  test('altered bin metadata no longer verifies against the bins delegation', () => {
    const keys = keyring();
    const { bits, bins } = binTargetsOf(16, names);
    const result = updateRepository(null, { now: T0, policy, bits, keys, binTargets: bins });
    const binsRole = parseTargetsMetadata(file(result, '1.bins.json'));
    const [binName] = [...bins].find(([, list]) => list.length > 0)!;
    const json = JSON.parse(file(result, `1.${binName}.json`).toString('utf8')) as { signed: { targets: Record<string, { length: number }> } };
    Object.values(json.signed.targets)[0]!.length += 1;
    const altered = Metadata.fromJSON(MetadataKind.Targets, json as never) as Metadata<Targets>;
    assert.throws(() => binsRole.verifyDelegate(binName, altered), /signed by 0\/1/);
  });
});
