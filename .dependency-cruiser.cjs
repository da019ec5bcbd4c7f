/**
 * The layering of src/ as rules that `npm test` enforces (docs/architecture.md describes the layers):
 *   entry files (main, server, app, container, cli, config) → http → authn / policy / oidc / admin / audit → store → lib
 * Type-only imports count too: a type from a library ties a folder to that library as much as a value does.
 * Only src/ is checked: test/, bench/ and migrations/ drive the whole system from outside and may reach any layer.
 */
const ENTRY = '^src/(main|server|app|container|cli)\\.ts$';

/** A library that only the folders matching `allowed` may import. */
const onlyFrom = (name, comment, allowed, library) => ({
  name,
  comment,
  severity: 'error',
  from: { path: '^src/', pathNot: allowed },
  to: { path: library },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    onlyFrom(
      'db-driver-outside-store',
      'Only src/store/ talks to PostgreSQL and Redis; everything else goes through its repositories and stores.',
      '^src/store/',
      '^node_modules/(kysely|pg|pg-[^/]+|ioredis|@electric-sql/pglite)/',
    ),
    onlyFrom(
      'koa-outside-http',
      'Only src/http/ and the entry files that assemble the app know the web framework.',
      ['^src/http/', ENTRY],
      '^node_modules/(koa|koa-[^/]+|@koa/[^/]+|@types/koa|@types/koa-[^/]+)/',
    ),
    onlyFrom(
      'oidc-provider-outside-oidc',
      'Only src/oidc/ talks to oidc-provider; the rest of the code sees it through ProviderHolder and the helpers there.',
      '^src/oidc/',
      '^node_modules/(oidc-provider|@types/oidc-provider)/',
    ),
    onlyFrom(
      'samlify-outside-saml',
      'Only src/saml/ talks to samlify (and its schema validator); the rest of the code sees the SAML IdP through the holder there.',
      '^src/saml/',
      '^node_modules/(samlify|@authenio/samlify-[^/]+|xmllint-wasm)/',
    ),
    {
      name: 'policy-above-its-layer',
      comment: 'The policy decides from facts it is given; it must not depend on how a login runs or is served.',
      severity: 'error',
      from: { path: '^src/policy/' },
      to: { path: '^src/(authn|http)/' },
    },
    {
      name: 'risk-stands-alone',
      comment: 'The risk engine scores from stored facts; whoever decides or serves a login calls it, never the other way round.',
      severity: 'error',
      from: { path: '^src/risk/' },
      to: { path: '^src/', pathNot: '^src/(risk|store|lib)/' },
    },
    {
      name: 'lib-is-a-leaf',
      comment: 'src/lib/ holds generic helpers that every layer may use, so it uses none of them.',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Layers depend one way: two folders that import each other are one layer in disguise.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve would make every rule above silently blind to it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    cache: false,
  },
};
