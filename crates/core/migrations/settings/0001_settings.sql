-- The settings store: the opencode sidepanel's localStorage layer (spec 37) made durable, and
-- its crash-recovery slot. Timestamps are integer milliseconds since the epoch.

-- One row per key. The key carries its namespace as a prefix (`sidepanel.theme`), the way the
-- sidepanel's localStorage keys do, so a namespace is a key range and a store opened without
-- one sees every key.
CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  -- The value as JSON text (validated before it is written; what JSON.stringify wrote).
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- What each key counts against a quota (its bytes and its value's), kept beside the key so that
-- summing a namespace reads this small index instead of every value (`length` of a BLOB, not
-- `octet_length`, so that a SQLite older than 3.43 still reads and writes the file).
CREATE INDEX settings_bytes ON settings (key, length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)));

-- The crash-recovery slot (the sidepanel's `crash.recovery` key), one per namespace ('' for a
-- store opened without one), kept apart from the settings so that exporting, listing or
-- trimming them never touches it and it does not count against their quota.
CREATE TABLE recovery (
  namespace TEXT PRIMARY KEY NOT NULL,
  -- The state as JSON text; rewritten only when it changes, so `saved_at` is when it last did.
  state TEXT NOT NULL,
  saved_at INTEGER NOT NULL
);
