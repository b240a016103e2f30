// Factories of AIT42's objects for the worktrees store's tests (AIT42's tests/common factories).
import type { WorktreeSessionInput } from '../../index.js'

/** A running competition session created and updated at 2025-01-13T10:00:00.000Z. */
export const session = (id: string, extra: Partial<WorktreeSessionInput> = {}): WorktreeSessionInput => ({
  id,
  type: 'competition',
  task: `Task of ${id}`,
  status: 'running',
  createdAt: '2025-01-13T10:00:00.000Z',
  updatedAt: '2025-01-13T10:00:00.000Z',
  ...extra,
})

/** A running instance numbered `instanceId`. */
export const instance = (instanceId: number, extra: Record<string, unknown> = {}) => ({
  instanceId,
  worktreePath: `/tmp/worktree-${instanceId}`,
  branch: `ait42/instance-${instanceId}`,
  agentName: 'claude',
  status: 'running' as const,
  tmuxSessionId: `tmux-${instanceId}`,
  ...extra,
})

/** A user message. */
export const message = (id: string, timestamp: string, extra: Record<string, unknown> = {}) => ({
  id,
  role: 'user' as const,
  content: `Message ${id}`,
  timestamp,
  ...extra,
})
