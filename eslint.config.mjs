// Lint: typescript-eslint's recommended rules on every TypeScript file of the repository (run by npm test).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.generated.ts', 'bench/results/**', 'docs/api/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // the compiler's noUnusedLocals/noUnusedParameters already hold; `_name` marks an intended unused binding
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
