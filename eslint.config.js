// ESLint 9 flat config: typescript-eslint strictTypeChecked with type information, plus the
// pure-layer rules of shared/style.md (no I/O, no clocks, no randomness in protocol/crypto/feed/cores).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**/*.c', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // node:test's test()/describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'use as-const unions' }],
    },
  },
  {
    files: ['src/protocol/**', 'src/crypto/**', 'src/feed/**', 'src/*/core.ts', 'src/collector/feed-index.ts',
      'src/collector/policy.ts', 'src/collector/rate-limit.ts'],
    ignores: ['src/feed/fetch.ts', 'src/feed/store.ts', 'src/feed/import.ts', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:dgram', 'node:net', 'node:http', 'node:fs', 'node:fs/*', '**/collector/**',
                '**/agent/**', '**/cli/**', '**/web/**', '**/runtime/**'],
              message: 'pure layer: no I/O, no program imports',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now' },
        { object: 'Math', property: 'random' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
);
