// Lint rules for every part: typescript-eslint's recommended type-aware set, plus the few rules
// STYLE.md leans on (no floating promises on the hot path, no unused values, consistent type imports).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'ui/dist/**', '.meshlet/**', 'bench/results/**', 'deploy/grafana/dashboards/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // Tests and small handlers pass async functions where void is expected (node:test, http handlers).
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: {
      // node:test's test() returns a promise that the runner awaits itself.
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  {
    // k6 scripts run in k6's runtime, which provides these globals (declared by @types/k6).
    files: ['bench/k6/**/*.js'],
    languageOptions: { globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly' } },
  },
  {
    files: ['bin/*.js', '*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The demo shop's services are plain JavaScript "user apps" run by the host's node (any version
    // from 18): outside the TypeScript project, linted without type information.
    files: ['examples/*/services/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
