// Child processes run without blocking the thread. A test file's worker must keep answering
// vitest's RPC while a long child runs: a thread blocked in spawnSync for over a minute (easy on a
// loaded machine) makes vitest report "Timeout calling onTaskUpdate".
import { spawn, type SpawnOptions } from 'node:child_process'

export interface Ran {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `cmd` to its end, like spawnSync with `encoding: 'utf8'`, without blocking. */
export function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    p.on('error', reject)
    p.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }))
  })
}
