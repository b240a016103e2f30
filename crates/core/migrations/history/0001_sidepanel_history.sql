-- The history store: the opencode sidepanel's snapshots, session recordings and usage analytics
-- (spec 37's DDL, spec 64's snapshot cap). Timestamps are ISO 8601 text with milliseconds and
-- `Z` (`2026-05-01T12:00:00.000Z`), so text order is time order and a retention cutoff written
-- in the same format compares correctly, on the boundary day too.

CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  timestamp TEXT NOT NULL,
  -- 'auto', 'manual' or 'system'.
  type TEXT NOT NULL,
  -- JSON: what caused the snapshot.
  trigger TEXT NOT NULL,
  description TEXT,
  -- 1 keeps the snapshot from the size cap's eviction and from retention.
  starred INTEGER NOT NULL DEFAULT 0,
  -- UTF-8 bytes of state_json, summary_json, trigger and description as stored: what the cap
  -- counts.
  size_bytes INTEGER NOT NULL,
  state_json TEXT NOT NULL,
  summary_json TEXT NOT NULL,
  -- Not in spec 37: creation order, 1, 2, 3, ... Snapshots taken within one millisecond share a
  -- timestamp; this breaks the tie, so "oldest first" is the order they were taken in.
  seq INTEGER NOT NULL UNIQUE
);

-- Newest first for list(); in spec 37 a DESC index on timestamp alone.
CREATE INDEX idx_snapshots_timestamp ON snapshots (timestamp, seq);
-- The oldest unstarred snapshots, for the cap's eviction and for retention, without a scan; in
-- spec 37 an index on starred alone.
CREATE INDEX idx_snapshots_starred ON snapshots (starred, timestamp, seq);

-- Not in spec 37: the running total of snapshots.size_bytes, so that a create checks the cap
-- without summing the table. The triggers keep it in the transaction of every insert and delete
-- (a create's evictions, retention, delete()), so it cannot drift from the rows, even when a
-- process is killed.
CREATE TABLE snapshot_usage (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  total_bytes INTEGER NOT NULL
);
INSERT INTO snapshot_usage (id, total_bytes) VALUES (1, 0);

CREATE TRIGGER snapshots_usage_insert AFTER INSERT ON snapshots BEGIN
  UPDATE snapshot_usage SET total_bytes = total_bytes + new.size_bytes WHERE id = 1;
END;

CREATE TRIGGER snapshots_usage_delete AFTER DELETE ON snapshots BEGIN
  UPDATE snapshot_usage SET total_bytes = total_bytes - old.size_bytes WHERE id = 1;
END;

CREATE TABLE recordings (
  -- The recorded session; no foreign key (spec 37): a recording outlives its session.
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  title TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- Milliseconds.
  duration INTEGER NOT NULL,
  -- JSON array of the recorded events.
  events_json TEXT NOT NULL,
  -- JSON array of snapshot references, or NULL.
  snapshots_json TEXT,
  -- JSON value, or NULL.
  metadata_json TEXT
);

CREATE INDEX idx_recordings_session ON recordings (session_id);
-- Not in spec 37: list() is newest first.
CREATE INDEX idx_recordings_created ON recordings (created_at);

CREATE TABLE analytics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT NOT NULL,
  event_type TEXT NOT NULL,
  session_id TEXT,
  model TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  cost REAL,
  duration_ms INTEGER,
  -- JSON value, or NULL.
  metadata_json TEXT
);

-- Ascending (spec 37: DESC; SQLite reads an index either way): retention deletes the oldest
-- rows first, in (timestamp, id) order, and query() reads a time range.
CREATE INDEX idx_analytics_timestamp ON analytics (timestamp);
CREATE INDEX idx_analytics_session ON analytics (session_id);
