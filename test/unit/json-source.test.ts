import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CairnError } from '../../src/errors.ts';
import { jsonArrayElementTexts, jsonMemberText, receivedArrayElements, receivedMember } from '../../src/formats/json-source.ts';

describe('jsonArrayElementTexts keeps each element as written', () => {
  const cases: [string, string, string[]][] = [
    ['empty', '[]', []],
    ['empty with whitespace', ' \r\n\t[ \n ]\n', []],
    ['scalars', '[1,-2.5e+3, true ,false,null, "x"]', ['1', '-2.5e+3', 'true', 'false', 'null', '"x"']],
    ['whitespace around elements is not theirs', '[\n  {"a" : 1 }\t,\r\n  [ 2 ]  ]', ['{"a" : 1 }', '[ 2 ]']],
    ['brackets and commas inside strings', '[{"s":"],}[{,"}, "[", "]"]', ['{"s":"],}[{,"}', '"["', '"]"']],
    ['escaped quotes and backslashes', String.raw`["a\"],[\"", "\\", {"k\"":"\\\""}]`, [String.raw`"a\"],[\""`, String.raw`"\\"`, String.raw`{"k\"":"\\\""}`]],
    ['unicode escapes stay escaped', String.raw`[{"caf\u00e9":"\u2603\ud83d\ude00"}, "\/"]`, [String.raw`{"caf\u00e9":"\u2603\ud83d\ude00"}`, String.raw`"\/"`]],
    ['raw non-ASCII characters', '["café ☃ 😀", {"ключ": "значение"}]', ['"café ☃ 😀"', '{"ключ": "значение"}']],
    ['nested arrays and objects', '[[[]],{"a":[{"b":{}}]},[{}, []]]', ['[[]]', '{"a":[{"b":{}}]}', '[{}, []]']],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => {
      const texts = jsonArrayElementTexts(text);
      assert.deepEqual(texts, expected);
      // Each text parses to the element JSON.parse sees: the scanner and the parser agree.
      assert.deepEqual(texts.map((t) => JSON.parse(t) as unknown), JSON.parse(text));
    });
  }

  test('text that is not one array is refused with the caller\'s code', () => {
    for (const bad of ['{}', '[1] [2]', '[1,', '["unterminated]', '[1 2]', '']) {
      assert.throws(() => jsonArrayElementTexts(bad, 'attestation.malformed'), (e: unknown) => e instanceof CairnError && e.code === 'attestation.malformed', bad);
    }
  });
});

describe('jsonMemberText', () => {
  test('finds a member by its unescaped name; the last of a repeated name wins, as JSON.parse decides', () => {
    const text = '{ "filename" : "x.whl", "attest\\u0061tions":[ 1 ],\n"attestations" :\n [ {"k": "v"} ] }';
    assert.equal((JSON.parse(text) as { attestations: unknown[] }).attestations.length, 1);
    assert.equal(jsonMemberText(text, 'attestations'), '[ {"k": "v"} ]');
    assert.equal(jsonMemberText(text, 'filename'), '"x.whl"');
    assert.equal(jsonMemberText(text, 'missing'), undefined);
    assert.equal(jsonMemberText('{}', 'a'), undefined);
  });

  test('a name inside a nested value or a string is not a member', () => {
    const text = '{"outer": {"attestations": [1]}, "note": "\\"attestations\\": [2]"}';
    assert.equal(jsonMemberText(text, 'attestations'), undefined);
  });
});

describe('received JSON keeps value and text together', () => {
  test('array elements and object members', () => {
    const text = '{"attestations": [ {"b":2,  "a":1}, "s" ]}';
    const body = { value: JSON.parse(text) as unknown, text };
    const member = receivedMember(body, 'attestations')!;
    assert.deepEqual(receivedArrayElements(member), [
      { value: { b: 2, a: 1 }, text: '{"b":2,  "a":1}' },
      { value: 's', text: '"s"' },
    ]);
    assert.equal(receivedMember(body, 'other'), undefined);
  });

  test('a value that is not the expected shape is refused', () => {
    assert.throws(() => receivedArrayElements({ value: {}, text: '{}' }, 'provenance.malformed'), /array/);
    assert.throws(() => receivedMember({ value: [], text: '[]' }, 'x', 'provenance.malformed'), /object/);
  });
});
