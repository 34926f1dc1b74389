/**
 * The import rules of src/, checked by `npm test` (docs/design.md, "Map of
 * the code"). Layers, lowest first: shared → storage → poll → http; beside
 * them observability (figures and logs, imported by anyone above shared);
 * worker (what runs in threads) on shared and storage only; the files at the
 * top of src/ assemble everything, and nothing below imports them.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle, type-only or not, means a file can no longer be read top-down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-is-a-leaf',
      severity: 'error',
      comment: 'shared/ is imported by both sides of the thread boundary: it imports nothing else of Pollster.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'worker-imports-shared-and-storage-only',
      severity: 'error',
      comment: 'Code that runs in worker threads never reaches the HTTP side or the scheduler.',
      from: { path: '^src/worker/' },
      to: { path: '^src/', pathNot: '^src/(shared|storage|worker)/' },
    },
    {
      name: 'storage-below-poll-and-http',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/(poll|http|observability|worker|cluster|cli)/|^src/[^/]+$', pathNot: '^src/config\\.ts$' },
    },
    {
      name: 'poll-below-http',
      severity: 'error',
      comment: 'The scheduler knows nothing of HTTP: its refusals are domain errors, mapped in http/error-mapping.ts.',
      from: { path: '^src/poll/' },
      to: { path: '^src/(http|observability|worker|cluster|cli)/|^src/[^/]+$', pathNot: '^src/config\\.ts$' },
    },
    {
      name: 'observability-is-a-leaf-layer',
      severity: 'error',
      comment: 'Metrics and logs read shapes from leaf files (observability/stats.ts), never the code that fills them.',
      from: { path: '^src/observability/' },
      to: { path: '^src/', pathNot: '^src/(observability|shared)/|^src/config\\.ts$' },
    },
    {
      name: 'auth-is-a-leaf-layer',
      severity: 'error',
      comment: 'Token verification knows nothing of HTTP or storage: http/identity.ts maps its refusals to 401 and finds the user.',
      from: { path: '^src/auth/' },
      to: { path: '^src/', pathNot: '^src/(auth|shared)/|^src/config\\.ts$' },
    },
    {
      name: 'http-below-the-app',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(worker|cluster|cli)/|^src/[^/]+$', pathNot: '^src/config\\.ts$' },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      comment: 'config.ts and the readers in config/ import nothing else of Pollster: everything else reads them.',
      from: { path: '^src/config(\\.ts$|/)' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'entry-points-are-not-imported',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/(main\\.ts|cli/)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: the cycles that folded the house were type-only.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mjs', '.js'],
      conditionNames: ['import', 'node', 'default'],
      exportsFields: ['exports'],
    },
  },
};
