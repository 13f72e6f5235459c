// Lint for the bugs that bite async TypeScript services: floating promises, misused promises,
// circular imports between modules, and imports across component boundaries.
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

// The folders are the architecture: components meet only through contracts (common/: events, Redis
// keys, the estimates channel; clickhouse/: the schema, its rows and readers) and over Redis,
// ClickHouse and HTTP. system/ is the composition root and may import everything. The evaluation
// harnesses (the scheduling lab, the estimator evaluation, benchmarks and measurements) run the
// simulated database or the estimator in-process on purpose, so they are the only exceptions.
const COMPONENTS = ['server', 'ingest', 'analysis', 'scheduler', 'system'];
const EVALUATION = {
  analysis: ['eval', 'eval-estimates.ts'],
  scheduler: ['lab', 'lab-cli.ts', 'bench-policy.ts', 'measure-live.ts'],
};
/** The component's files, minus its evaluation harness (globs: `!(a|b)` is "anything but a or b"). */
const targets = (c) => {
  const skip = EVALUATION[c];
  return skip ? [`./${c}/!(${skip.join('|')})`, `./${c}/!(${skip.join('|')})/**`] : [`./${c}`];
};
const boundary = (c) => ({
  target: targets(c),
  from: COMPONENTS.filter((other) => other !== c).map((other) => `./${other}`),
  message: `${c}/ meets other components only through common/ and clickhouse/ contracts`,
});
const ZONES = [
  {
    target: './common',
    from: [...COMPONENTS, 'clickhouse'].map((c) => `./${c}`),
    message: 'common/ imports no component',
  },
  { target: './clickhouse', from: COMPONENTS.map((c) => `./${c}`), message: 'clickhouse/ imports only common/' },
  ...['server', 'ingest', 'analysis', 'scheduler'].map(boundary),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', 'reports/**', 'coverage/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // The sources import `./x.js` for `./x.ts` (Node ES modules); without the alias the import rules
    // cannot resolve a single project import and check nothing.
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: ZONES }],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
