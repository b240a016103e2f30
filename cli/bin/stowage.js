#!/usr/bin/env node
// stowage: look into any stowage store file, export it, plot it. `stowage help` lists the
// commands, `stowage <command> --help` explains one. docs/cli.md is the manual.

import { main } from '../lib/commands.js'

// `stowage … | head` closes the pipe early: stop quietly, as other command-line tools do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

process.exitCode = await main(process.argv.slice(2))
