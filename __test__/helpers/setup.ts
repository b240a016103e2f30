// Before every test, the worker's event loop turns once, so that vitest's RPC answers which
// arrived while a synchronous test (spawnSync of Python, Node or npm) held the thread are read
// before the next one holds it again. Without this, consecutive synchronous tests add up: over
// a minute of them, easy on a loaded machine, and vitest reports "Timeout calling onTaskUpdate".
import { beforeEach } from 'vitest'

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)))
