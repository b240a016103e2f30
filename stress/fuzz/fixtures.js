'use strict'
// The files the fuzzer's paths point at, all inside its temporary folder: databases, junk files,
// checkpoint files, legacy `sessions.json` files with random JSON, a real bundle and hostile
// variants of it (random manifests, a damaged database, tars with escaping or odd entries).

const fs = require('node:fs')
const path = require('node:path')

/** A ustar archive of `entries` (`{ name, type = '0', data, link }`), names written as given. */
function tar(entries) {
  const parts = []
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '')
    const h = Buffer.alloc(512, 0)
    h.write(e.name, 0, 100, 'utf8')
    h.write('0000644\0', 100)
    h.write('0000000\0', 108)
    h.write('0000000\0', 116)
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124)
    h.write('00000000000\0', 136)
    h.write('        ', 148)
    h.write(e.type ?? '0', 156)
    if (e.link) h.write(e.link, 157, 100, 'utf8')
    h.write('ustar\0', 257)
    h.write('00', 263)
    let sum = 0
    for (const b of h) sum += b
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** Random JSON text: valid documents of random shape, and broken ones. */
function randomJson(rng, v) {
  const value = (depth) => {
    switch (rng.int(depth > 3 ? 4 : 7)) {
      case 0: return null
      case 1: return rng.pick([0, -1, 1.5, 1e308, 2 ** 64, true, false])
      case 2: return v.string().v
      case 3: return rng.pick(['booting', 'working', 'completed', '2026-01-01T00:00:00.000Z', 'checkpoints/a.pt', '/etc/passwd', '../x'])
      case 4: return Array.from({ length: rng.int(4) }, () => value(depth + 1))
      default: {
        const o = {}
        for (let i = 0; i < rng.int(6); i++) {
          o[rng.pick(['id', 'agentName', 'capability', 'worktreePath', 'branchName', 'taskId', 'beadId', 'tmuxSession', 'state', 'pid',
            'startedAt', 'lastActivity', 'depth', 'schema_version', 'checkpoints', 'final_models', 'sqlite', 'x'])] = value(depth + 1)
        }
        return o
      }
    }
  }
  return rng.weighted([
    [6, () => JSON.stringify(value(0))],
    [2, () => JSON.stringify(Array.from({ length: 1 + rng.int(5) }, () => value(1)))],
    [1, () => '['.repeat(100000)],
    [1, () => '{"schema_version": "1.1", "checkpoints": {"a": 1e999}}'],
    [1, () => JSON.stringify(value(0)).slice(0, rng.int(40))],
    [1, () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]).toString('latin1')],
    [1, () => ''],
  ])()
}

/** Manifests that must be refused or handled: random, escaping, absolute, wrong types. */
function hostileManifests(rng, v) {
  const list = [
    { schema_version: '1.1', sqlite: 'runs.sqlite', checkpoints: { 'r0:1': '/etc/passwd' }, final_models: {} },
    { schema_version: '1.1', checkpoints: { 'r0:1': '../../../../../../../../etc/passwd' } },
    { schema_version: '1.1', checkpoints: { 'r0:1': 'checkpoints/../../outside.pt' } },
    { schema_version: '2.0', checkpoints: {} },
    { schema_version: 1.1, checkpoints: [] },
    { schema_version: '1.0', checkpoints: { 'r0:1': 42 } },
    { schema_version: '1.1', checkpoints: {}, final_models: { s0: null, s1: '', s2: 'final_models/\0x' } },
    { schema_version: '1.1', checkpoints: { [v.codeUnits(8)]: v.codeUnits(8) } },
  ]
  return [...list.map((m) => JSON.stringify(m)), ...Array.from({ length: 6 }, () => randomJson(rng, v))]
}

/**
 * Creates the fixture files under `root` (the process's working folder) and returns the paths
 * (relative to it) of the damaged and hostile bundles. `stowage` is the package; the fixture
 * bundle is exported from a store filled here.
 */
function createFixtures(root, rng, v, stowage) {
  const mk = (...p) => fs.mkdirSync(path.join(root, ...p), { recursive: true })
  for (const d of ['db', 'agents', 'bundles', 'backups', 'legacy', 'ov/o0', 'ov/o1', 'ov/o2', 'default', 'ckpt', 'junk/dir.sqlite', 'fixtures', 'worktrees', 'wtlegacy/d0', 'wtlegacy/d1', '.ait42/sessions', 'chats', 'conv', 'hist', 'archives', 'settings']) mk(d)
  const write = (p, data) => fs.writeFileSync(path.join(root, p), data)
  write('junk/notadb.sqlite', Buffer.from(Array.from({ length: 4096 }, () => rng.int(256))))
  write('junk/empty.sqlite', '')
  write('junk/text.txt', 'not a database\n')
  write('ov/o3', 'a file where a folder is expected')
  for (let i = 0; i < 4; i++) write(`ckpt/c${i}.pt`, Buffer.alloc(64 + rng.int(4096), i))
  for (let i = 0; i < 8; i++) write(`legacy/l${i}.json`, randomJson(rng, v))
  write('ov/o0/sessions.json', JSON.stringify([{ id: 's', agentName: 'a', capability: 'builder', worktreePath: '/w', branchName: 'b', beadId: 't', tmuxSession: 'x', state: 'working', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:00.000Z' }]))
  write('ov/o1/sessions.json', randomJson(rng, v))
  const wtSession = (id) => ({ id, type: 'ensemble', task: 't', status: 'completed', createdAt: '2025-01-13T10:00:00.000Z', updatedAt: '2025-01-13T10:00:00.000Z',
    instances: [{ instanceId: 0, worktreePath: '/w', branch: 'b', agentName: 'a', status: 'completed', tmuxSessionId: 'x' }], chatHistory: [{ id: `${id}-m`, role: 'user', content: 'c', timestamp: 't' }] })
  write('wtlegacy/d0/00000000000000a0.json', JSON.stringify([wtSession('ws0'), wtSession('legacy-1')], null, 2))
  write('wtlegacy/d0/00000000000000a1.json', randomJson(rng, v))
  write('wtlegacy/d1/00000000000000b0.json', JSON.stringify([wtSession('ws1'), { id: 'bad' }], null, 2))
  write('.ait42/sessions/00000000000000c0.json', JSON.stringify([wtSession('legacy-home')]))
  // opencode's JSON storage trees for the chats store's importer: a valid one, and one of
  // random bodies (with an orphan).
  for (const [tree, body] of [['chats/tree0', (x) => JSON.stringify(x)], ['chats/tree1', () => randomJson(rng, v)]]) {
    for (const d of ['project', 'session/proj_0', 'session/proj_gone', 'message/ses_0', 'part/msg_0', 'todo', 'permission']) mk(tree, d)
    write(`${tree}/project/proj_0.json`, body({ worktree: '/w' }))
    write(`${tree}/session/proj_0/ses_0.json`, body({ directory: '/w', title: 'imported', time: { created: 1, updated: 2 } }))
    write(`${tree}/session/proj_gone/ses_9.json`, body({ title: 'orphan' }))
    write(`${tree}/message/ses_0/msg_0.json`, body({ role: 'user', content: 'hi', time: { created: 1 } }))
    write(`${tree}/part/msg_0/prt_0.json`, body({ type: 'text', text: 'hi' }))
    write(`${tree}/todo/ses_0.json`, body([{ content: 'a', status: 'pending', priority: 'high' }]))
    write(`${tree}/permission/proj_0.json`, body([]))
  }
  write('archives/hostile.json.gz', Buffer.from(Array.from({ length: 2048 }, () => rng.int(256))))

  const src = stowage.openStore(path.join(root, 'fixtures/src.sqlite'))
  const t = src.training
  t.insertRun('r0', 'p', 'base', null)
  t.insertRun('r1', 'p', 'fork', ['r0'])
  t.insertMetricBatch(Array.from({ length: 50 }, (_, step) => ({ run_id: step % 2 ? 'r0' : 'r1', step, loss: 1 / (step + 1), val_loss: null })))
  t.insertCheckpoint('r0:1', 'r0', 1, path.join(root, 'ckpt/c0.pt'))
  t.insertCheckpoint('r1:2', 'r1', 2, path.join(root, 'ckpt/missing.pt'))
  t.upsertFinalModel({ session_id: 's0', run_id: 'r0', ckpt_path: path.join(root, 'ckpt/c1.pt'), step: 1, avg_test_loss: 0.5 })
  t.exportBundle(path.join(root, 'bundles/b0'), { archive: true })
  src.close()

  const bundle = path.join(root, 'bundles/b0')
  const bad = hostileManifests(rng, v).map((text, i) => {
    const dir = `fixtures/bad${i}`
    fs.cpSync(bundle, path.join(root, dir), { recursive: true })
    fs.writeFileSync(path.join(root, dir, 'bundle.json'), text)
    return dir
  })
  const damaged = path.join(root, 'fixtures/damaged')
  fs.cpSync(bundle, damaged, { recursive: true })
  const db = fs.readFileSync(path.join(damaged, 'runs.sqlite'))
  for (let i = 0; i < 64; i++) db[100 + rng.int(db.length - 100)] = rng.int(256)
  fs.writeFileSync(path.join(damaged, 'runs.sqlite'), db)
  const manifest = fs.readFileSync(path.join(bundle, 'bundle.json'))
  const tars = {
    'escape.tar': [{ name: '../../../../../../../../../../tmp/stowage-fuzz-escape', data: 'x' }, { name: 'bundle.json', data: manifest }],
    'absolute.tar': [{ name: '/tmp/stowage-fuzz-escape', data: 'x' }, { name: 'bundle.json', data: manifest }],
    'symlink.tar': [{ name: 'bundle.json', type: '2', link: '/etc/passwd' }],
    'fifo.tar': [{ name: 'runs.sqlite', type: '6' }, { name: 'bundle.json', data: manifest }],
    'garbage.tar': null,
  }
  for (const [name, entries] of Object.entries(tars)) {
    const data = entries ? tar(entries) : Buffer.from(Array.from({ length: 3000 }, () => rng.int(256)))
    fs.writeFileSync(path.join(root, 'fixtures', name), data)
  }
  return [...bad, 'fixtures/damaged', ...Object.keys(tars).map((name) => `fixtures/${name}`)]
}

/** Paths a random file operation must never create: outside the fuzzer's folder. */
const ESCAPES = ['/tmp/stowage-fuzz-escape']

module.exports = { createFixtures, ESCAPES }
