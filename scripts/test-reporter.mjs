// The test summary `npm test` prints: node's own `spec` reporter, with every skip counted.
//
// node:test counts a skipped test in its closing `skipped N`, but a suite skipped with
// `describe(name, { skip }, …)` — how a test file skips when a tool it needs (chromium, twine,
// PostgreSQL) is missing — is counted as nothing at all: its tests are never declared. The
// closing counts then said "skipped 0" while a whole browser suite had not run. Here each
// skipped suite counts as one skipped test (in `tests` and `skipped`), and the summary ends with
// one line per skipped test or suite, with the reason its file gave.
import { Transform } from 'node:stream';
import { spec } from 'node:test/reporters';
import { relative } from 'node:path';

export default class CountingSpecReporter extends Transform {
  constructor() {
    super({ writableObjectMode: true });
    this.spec = new spec();
    this.spec.on('data', (chunk) => this.push(chunk));
    /** Skipped suites, and skipped tests, as `file › name # reason`. */
    this.skippedSuites = 0;
    this.skips = [];
  }

  _transform(event, _encoding, done) {
    if (event.type === 'test:pass' && event.data.skip !== undefined) {
      const suite = event.data.details?.type === 'suite';
      if (suite) this.skippedSuites++;
      const file = event.data.file ? `${relative(process.cwd(), event.data.file)} › ` : '';
      const reason = typeof event.data.skip === 'string' ? ` # ${event.data.skip}` : '';
      this.skips.push(`${file}${suite ? 'suite ' : ''}${event.data.name}${reason}`);
    }
    // The run's closing counts (nesting 0, after every file): add the skipped suites.
    if (event.type === 'test:diagnostic' && event.data.nesting === 0 && this.skippedSuites > 0) {
      const count = /^(tests|skipped) (\d+)$/.exec(event.data.message);
      if (count) event = { ...event, data: { ...event.data, message: `${count[1]} ${Number(count[2]) + this.skippedSuites}` } };
    }
    this.spec.write(event, done);
  }

  _flush(done) {
    this.spec.once('end', () => {
      if (this.skips.length > 0) {
        this.push(`\nskipped (${this.skips.length}; a skipped suite counts once):\n${this.skips.map((s) => `  - ${s}\n`).join('')}`);
      }
      done();
    });
    this.spec.end();
  }
}
