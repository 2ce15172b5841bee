// ESLint for the panel's TypeScript (flat config): ESLint's and typescript-eslint's recommended
// rules, the type-aware ones included (they catch unhandled promises, which a UI loses
// silently). Formatting is prettier's job (`jlpm prettier:check`), so eslint-config-prettier
// turns off the rules that would disagree with it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['lib/', 'node_modules/', '**/*.js', '**/*.d.ts'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error',
      // `namespace CommandIDs { ... }` is how JupyterLab's packages group their command ids
      '@typescript-eslint/no-namespace': 'off',
      // interfaces named I*, as in JupyterLab's own packages and the extension template
      '@typescript-eslint/naming-convention': [
        'error',
        { selector: 'interface', format: ['PascalCase'], custom: { regex: '^I[A-Z]', match: true } }
      ]
    }
  },
  { files: ['**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  prettier
);
