import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command, Help } from 'commander';
import { COMMANDS, requestedCommand } from '../../src/cli/commands.ts';

/** `cairn --help` lists the commands without loading them; what it lists must be what they register. */
test('every command is listed with the term and summary its module registers', async () => {
  const help = new Help();
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const program = new Command();
    (await entry.load())(program);
    const command = program.commands.find((c) => c.name() === name);
    assert.ok(command, `${name} registers a command of that name`);
    assert.equal(help.subcommandTerm(command), entry.term, name);
    assert.equal(command.description(), entry.summary, name);
  }
});

test('a command line loads only the command it names', () => {
  assert.equal(requestedCommand(['verify', 'x.whl']), 'verify');
  assert.equal(requestedCommand(['help', 'serve']), 'serve');
  assert.equal(requestedCommand(['--help']), null);
  assert.equal(requestedCommand([]), null);
  assert.equal(requestedCommand(['nonsense']), null);
});
