// Bundles src/ into dist/extension.js. `vscode` is provided by the editor and `stowage` stays a
// runtime require: its loader picks the native binary from node_modules/stowage-<triple>, so both
// packages ship in the VSIX as they were installed (see .vscodeignore).
const esbuild = require('esbuild')

const production = process.argv.includes('--production')

esbuild
  .build({
    entryPoints: ['src/extension.ts'],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: 'dist/extension.js',
    external: ['vscode', 'stowage'],
    minify: production,
    sourcemap: !production,
    sourcesContent: false,
    logLevel: 'warning',
  })
  .catch(() => process.exit(1))
