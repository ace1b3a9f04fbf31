// The layer directions of src/ (docs/architecture.md), enforced on every relative import and on
// the libraries a pure module may not reach for. A table, so the architecture reads in one place.
import { dirname, relative, resolve, sep } from 'node:path';

const PURE = ['errors', 'formats', 'trust', 'policy', 'tuf', 'ui'];

/** Layer name, the path under src/ it owns (longest prefix wins), and what it may import. */
export const LAYERS = [
  { name: 'errors', path: 'errors.ts', imports: [] },
  { name: 'formats', path: 'formats/', imports: ['errors', 'formats'] },
  { name: 'trust', path: 'trust/', imports: ['errors', 'formats', 'trust'] },
  { name: 'policy', path: 'policy/', imports: ['errors', 'formats', 'trust', 'policy'] },
  { name: 'tuf', path: 'tuf/', imports: ['errors', 'formats', 'tuf'] },
  { name: 'ui', path: 'ui/', imports: ['errors', 'formats', 'ui'] },
  { name: 'http', path: 'http/', imports: ['errors', 'formats', 'http'] },
  { name: 'devtrust', path: 'devtrust/', imports: ['errors', 'formats', 'trust', 'devtrust'] },
  { name: 'server', path: 'server/', imports: [...PURE, 'devtrust', 'server'] },
  { name: 'server-http', path: 'server/http/', imports: [...PURE, 'http', 'devtrust', 'server', 'server-http'] },
  { name: 'client', path: 'client/', imports: [...PURE, 'http', 'client'] },
  { name: 'cli', path: 'cli/', imports: [...PURE, 'http', 'devtrust', 'server', 'server-http', 'client', 'cli'] },
  { name: 'library', path: 'index.ts', imports: [...PURE, 'client'] },
];

/** Packages that mean I/O, a database or HTTP; pure layers never import them. */
const IMPURE_PACKAGES = /^(node:(fs|fs\/promises|http|https|net|child_process|worker_threads|os|path)|fs|http|kysely|pg|better-sqlite3|fastify|@fastify\/.*)$/;

function layerOf(pathUnderSrc) {
  let best = null;
  for (const layer of LAYERS) {
    const owns = layer.path.endsWith('/') ? pathUnderSrc.startsWith(layer.path) : pathUnderSrc === layer.path;
    if (owns && (!best || layer.path.length > best.path.length)) best = layer;
  }
  return best;
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the layer directions of src/ (docs/architecture.md)' },
    schema: [{ type: 'object', properties: { srcDir: { type: 'string' } }, additionalProperties: false }],
    messages: {
      crossing: "{{from}} may not import {{to}} ({{target}}); {{from}} may import: {{allowed}}",
      impure: "{{from}} is pure and may not import '{{target}}' (I/O, a database or HTTP belong in server/ or client/)",
      unknown: 'file {{file}} is in no layer of src/; add its folder to eslint-rules/layers.js',
    },
  },
  create(context) {
    const srcDir = resolve(context.options[0]?.srcDir ?? 'src');
    const file = context.filename;
    const own = relative(srcDir, file).split(sep).join('/');
    if (own.startsWith('..')) return {};
    const from = layerOf(own);
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (!from) {
        context.report({ node, messageId: 'unknown', data: { file: own } });
        return;
      }
      if (!source.startsWith('.')) {
        if (PURE.includes(from.name) && IMPURE_PACKAGES.test(source)) {
          context.report({ node, messageId: 'impure', data: { from: from.name, target: source } });
        }
        return;
      }
      const target = relative(srcDir, resolve(dirname(file), source)).split(sep).join('/');
      if (target.startsWith('..')) return;
      const to = layerOf(target);
      if (!to || from.imports.includes(to.name)) return;
      context.report({ node, messageId: 'crossing', data: { from: from.name, to: to.name, target, allowed: from.imports.join(', ') } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { layers: layersRule } };
