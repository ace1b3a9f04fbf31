import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import cairnLayers from './eslint-rules/layers.js';

export default tseslint.config(
  { ignores: ['node_modules/**', '.scratch/**', 'dist/**', 'dist.*.tmp/**', 'data/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The layer directions (docs/architecture.md): pure code never reaches I/O, server and client never meet.
    files: ['src/**/*.ts'],
    plugins: { cairn: cairnLayers },
    rules: { 'cairn/layers': ['error', { srcDir: 'src' }] },
  },
);
