import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const sdkOutsideTheWing = 'AWS is reached through its module of src/aws/ (one per service): import the call or the client from there.';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'cdk.out/', 'coverage/', '**/cdk.out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Every AWS service is reached through its one module of src/aws/ (DESIGN.md): it builds the
    // client, bounds the call and types the refusals. The construct only synthesizes templates;
    // tests, benchmarks and scripts set up emulators with SDK clients of their own.
    files: ['src/**/*.ts'],
    ignores: ['src/aws/**', 'src/cdk/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@aws-sdk/*', '@smithy/*'], message: sdkOutsideTheWing }] }],
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/^@(aws-sdk|smithy)\\//]', message: sdkOutsideTheWing }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
