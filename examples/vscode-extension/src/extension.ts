// A VS Code extension that keeps its runs in stowage the way OnTheFly does: the store opens in
// activate() from the extension's global storage folder, every training step is one insertMetric
// and one insertLog call, and deactivate() closes the store and keeps the file for the next window.
// Beside it, in a file of its own, stowage's agents store (overstory's session store) records an
// agent's lifecycle.
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as vscode from 'vscode'
import { closeStorage, getDbPath, getLogs, getRunRows, initStorage, insertLog, insertMetric, insertRun, listRuns, openStore } from 'stowage'
import type { MetricBatchRow, RunRow, StoreWith } from 'stowage'

const PROJECT = 'example'

let output: vscode.OutputChannel | undefined
let agents: StoreWith<'agents'> | undefined

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('stowage example')
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('stowageExample.recordRuns', recordRuns),
    vscode.commands.registerCommand('stowageExample.showRuns', showRuns),
    vscode.commands.registerCommand('stowageExample.recordAgents', recordAgents),
  )
  await initStorage(context) // <globalStorage>/runs.sqlite
  // The training and agents stores both keep a table named `runs`, so each has its own file.
  mkdirSync(context.globalStorageUri.fsPath, { recursive: true })
  agents = openStore(join(context.globalStorageUri.fsPath, 'sessions.db'), { stores: ['agents'] })
  output.appendLine(`VS Code ${vscode.version} (${vscode.env.appHost}), Node ${process.versions.node}: ${getDbPath()}, ${agents.path}`)
}

export function deactivate(): void {
  agents?.close()
  agents = undefined
  closeStorage({ retainFile: true })
}

/** Records a base run step by step, then a fork of it whose steps arrive as one batch. */
function recordRuns(): void {
  const steps = vscode.workspace.getConfiguration('stowageExample').get<number>('steps', 20)
  const tag = randomUUID().slice(0, 8) // unique even when two windows record at the same moment
  const session = `session-${tag}`
  const base = `base-${tag}`
  const fork = `fork-${tag}`

  insertRun(base, PROJECT, base, null)
  for (let step = 1; step <= steps; step++) {
    const epoch = Math.floor((step - 1) / 10)
    const loss = 2 / step
    const val_loss = loss * 1.1
    insertMetric(base, { step, epoch, loss, val_loss, lr: 1e-3 })
    insertLog({ run_id: base, session_id: session, level: 'info', phase: 'train', step, epoch,
      text: `step ${step}: train_loss = ${loss.toFixed(4)}, val_loss = ${val_loss.toFixed(4)}` })
  }

  insertRun(fork, PROJECT, fork, base)
  const rows: MetricBatchRow[] = []
  for (let step = steps + 1; step <= 2 * steps; step++) {
    rows.push({ run_id: fork, step, epoch: Math.floor((step - 1) / 10), loss: 1.5 / step, val_loss: null, lr: 5e-4 })
  }
  insertMetric.batch(rows)
  insertLog({ run_id: fork, session_id: session, level: 'info', phase: 'info', text: `forked from ${base} at step ${steps}` })

  report(listRuns())
  void vscode.window.showInformationMessage(`stowage: recorded ${base} and ${fork} in ${getDbPath()}`)
}

/** Records an agent session going through overstory's lifecycle, booting → working → completed,
 * with a transition the state machine refuses on the way (an agent never goes back to booting). */
function recordAgents(): void {
  const store = agentStore()
  const tag = randomUUID().slice(0, 8)
  const run = store.agentRuns.createRun({ id: `run-${tag}`, coordinatorName: 'stowage-example' })
  const agentName = `builder-${tag}`
  const now = new Date().toISOString()
  store.agents.upsert({
    id: `session-${tag}`,
    agentName,
    capability: 'builder',
    worktreePath: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '',
    branchName: `example/${tag}`,
    taskId: `task-${tag}`,
    tmuxSession: `example-${tag}`,
    state: 'booting',
    runId: run.id,
    startedAt: now,
    lastActivity: now,
  })
  const out = channel()
  out.appendLine(`${agentName} (${run.id}): booting`)
  for (const state of ['working', 'booting', 'completed']) {
    const outcome = store.agents.tryTransitionState(agentName, state)
    if (outcome.ok) out.appendLine(`${agentName}: ${outcome.prev} -> ${outcome.next}`)
    else out.appendLine(`${agentName}: ${outcome.attempted} refused (${outcome.reason}${'prev' in outcome ? `, in ${outcome.prev}` : ''})`)
  }
  store.agentRuns.completeRun(run.id, 'completed')
  out.show(true)
  const session = store.agents.getByName(agentName)
  void vscode.window.showInformationMessage(`stowage: ${agentName} is ${session?.state} in ${store.path}`)
}

/** Lets the user pick a run and prints its metrics and logs. */
async function showRuns(): Promise<void> {
  const runs = listRuns()
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('stowage: no runs yet; run "stowage: Record example runs" first')
    return
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({ label: run.name, description: run.run_id, detail: describe(run) })),
    { placeHolder: 'Run to show' },
  )
  if (picked === undefined) return
  const out = channel()
  out.appendLine(`== ${picked.label}`)
  for (const row of getRunRows(picked.description)) out.appendLine(`step ${row.step}: loss ${num(row.loss)}, val_loss ${num(row.val_loss)}`)
  for (const log of getLogs(picked.description)) out.appendLine(`[${log.phase}] ${log.text}`)
  out.show(true)
}

function report(runs: RunRow[]): void {
  const out = channel()
  out.appendLine(`${runs.length} runs in ${getDbPath()}`)
  for (const run of runs) out.appendLine(`${run.name}: ${describe(run)}`)
  out.show(true)
}

function describe(run: RunRow): string {
  const rows = getRunRows(run.run_id)
  const last = rows[rows.length - 1]
  const parents = run.parents.length > 0 ? `, from ${run.parents.join(', ')}` : ''
  return `${rows.length} steps, last loss ${num(last?.loss ?? null)}${parents}`
}

function num(value: number | null): string {
  return value === null ? '-' : value.toFixed(4)
}

function channel(): vscode.OutputChannel {
  if (output === undefined) throw new Error('stowage example: not activated')
  return output
}

function agentStore(): StoreWith<'agents'> {
  if (agents === undefined) throw new Error('stowage example: not activated')
  return agents
}
