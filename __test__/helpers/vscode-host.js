'use strict'
// A minimal stand-in for VS Code's extension host, run as its own Node process:
//
//   node vscode-host.js <extension-dir> <global-storage-dir> [<command-id>...]
//
// It serves `require('vscode')` with the few APIs the example uses (no settings: every
// configuration value is its default; no workspace folder), loads the extension's `main`,
// activates it with an ExtensionContext whose globalStorageUri is <global-storage-dir> and whose
// storageUri/storagePath name a workspace storage folder beside it (<global-storage-dir>/../
// workspaceStorage/ws, as a real context does in a window on a folder), runs each
// command, deactivates it and disposes its subscriptions, as VS Code does when a window closes.
// It prints what the extension did as JSON: the commands it registered, the messages and quick
// picks it showed, the lines of its output channels and the native modules the process loaded.
// showQuickPick answers with the first item.

const Module = require('node:module')
const path = require('node:path')

const [extensionDir, storageDir, ...commandIds] = process.argv.slice(2)

const commands = new Map()
const seen = { commands: [], messages: [], quickPicks: [], output: [] }

const vscode = {
  version: '0.0.0-stand-in',
  env: { appHost: 'stand-in' },
  workspace: {
    workspaceFolders: undefined,
    getConfiguration() {
      return { get: (key, defaultValue) => defaultValue }
    },
  },
  window: {
    createOutputChannel(name) {
      return {
        name,
        appendLine: (line) => seen.output.push(line),
        show() {},
        dispose() {},
      }
    },
    async showInformationMessage(message) {
      seen.messages.push(message)
      return undefined
    },
    async showQuickPick(items) {
      const list = await items
      seen.quickPicks.push(list.map((item) => item.label))
      return list[0]
    },
  },
  commands: {
    registerCommand(id, handler) {
      if (commands.has(id)) throw new Error(`command '${id}' already exists`)
      commands.set(id, handler)
      seen.commands.push(id)
      return { dispose: () => commands.delete(id) }
    },
    async executeCommand(id, ...args) {
      const handler = commands.get(id)
      if (handler === undefined) throw new Error(`command '${id}' not found`)
      return handler(...args)
    },
  },
}

const VSCODE_ID = path.join(__dirname, '<vscode>')
const vscodeModule = new Module(VSCODE_ID)
vscodeModule.filename = VSCODE_ID
vscodeModule.exports = vscode
vscodeModule.loaded = true
require.cache[VSCODE_ID] = vscodeModule
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? VSCODE_ID : resolve.call(this, request, ...rest)
}

async function main() {
  const manifest = require(path.join(extensionDir, 'package.json'))
  const extension = require(path.join(extensionDir, manifest.main))
  const workspaceStorage = path.join(path.dirname(storageDir), 'workspaceStorage', 'ws', manifest.name)
  const context = {
    subscriptions: [],
    extensionPath: extensionDir,
    globalStorageUri: { scheme: 'file', fsPath: storageDir },
    globalStoragePath: storageDir,
    storageUri: { scheme: 'file', fsPath: workspaceStorage },
    storagePath: workspaceStorage,
  }
  await extension.activate(context)
  for (const id of commandIds) await vscode.commands.executeCommand(id)
  if (typeof extension.deactivate === 'function') await extension.deactivate()
  for (const d of context.subscriptions) d.dispose()
  const nativeModules = process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node'))
  process.stdout.write(JSON.stringify({ ...seen, remainingCommands: [...commands.keys()], nativeModules }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
