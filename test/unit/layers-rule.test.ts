import { describe, it } from 'node:test';
import { resolve } from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { layersRule } from '../../eslint-rules/layers.js';

// RuleTester asks for the runner's describe/it; node:test provides both.
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const src = resolve('src');
const at = (path: string) => resolve(src, path);
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser as never, ecmaVersion: 2022, sourceType: 'module' } });
const options = [{ srcDir: src }];

describe('the layer directions of src/ (eslint-rules/layers.js)', () => {
  tester.run('cairn/layers', layersRule, {
    valid: [
      { filename: at('server/upload/upload-service.ts'), code: "import { x } from '../../formats/pep440.ts';", options },
      { filename: at('server/http/routes/simple.ts'), code: "import { x } from '../../pages/simple-pages.ts';", options },
      { filename: at('server/http/routes/simple.ts'), code: "import { x } from '../../../http/errors.ts';", options },
      { filename: at('client/verify/targets.ts'), code: "import { x } from '../../policy/evaluate.ts';", options },
      { filename: at('cli/serve.ts'), code: "import { x } from '../server/http/server.ts';", options },
      { filename: at('trust/verify-attestation.ts'), code: "import { createHash } from 'node:crypto';", options },
      { filename: at('devtrust/keys.ts'), code: "import { readFileSync } from 'node:fs';", options },
    ],
    invalid: [
      // the two applications never meet
      { filename: at('server/pages/json-api.ts'), code: "import { x } from '../../client/verify/index.ts';", options, errors: [{ messageId: 'crossing' }] },
      { filename: at('client/proxy/verifying-proxy.ts'), code: "import { x } from '../../server/storage/schema.ts';", options, errors: [{ messageId: 'crossing' }] },
      // services never reach up into their HTTP adapter
      { filename: at('server/upload/upload-service.ts'), code: "import { x } from '../http/app.ts';", options, errors: [{ messageId: 'crossing' }] },
      // pure code imports neither services nor I/O
      { filename: at('formats/simple-api.ts'), code: "import { x } from '../server/pages/simple-pages.ts';", options, errors: [{ messageId: 'crossing' }] },
      { filename: at('policy/evaluate.ts'), code: "import { readFileSync } from 'node:fs';", options, errors: [{ messageId: 'impure' }] },
      { filename: at('tuf/metadata.ts'), code: "import type { Kysely } from 'kysely';", options, errors: [{ messageId: 'impure' }] },
      { filename: at('ui/html.ts'), code: "export { x } from '../http/errors.ts';", options, errors: [{ messageId: 'crossing' }] },
      // the dev trust domain uses pure code only
      { filename: at('devtrust/routes.ts'), code: "import { sendError } from '../http/errors.ts';", options, errors: [{ messageId: 'crossing' }] },
      { filename: at('devtrust/routes.ts'), code: "const m = await import('../server/composition.ts');", options, errors: [{ messageId: 'crossing' }] },
      // a file outside every layer is reported rather than silently allowed
      { filename: at('misc/thing.ts'), code: "import { x } from '../formats/pep440.ts';", options, errors: [{ messageId: 'unknown' }] },
    ],
  });
});
