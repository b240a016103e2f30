//! `loadBundle`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::files::copy_file;
use super::manifest::{Manifest, MAX_MANIFEST_BYTES, SQLITE_FILE};
use super::paths::resolve_inside;
use super::progress::{Meter, Phase, Sink};
use super::{archive, Missing};
use crate::engine::scratch::sibling;
use crate::engine::{
    connect, ident, integrity, table_columns, write_tx, Error, Result, StoreDef, BUSY_TIMEOUT_MS,
};
use crate::training::{schema, Training};

/// What a load loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The bundle folder (canonical); for a `.tar`, the folder it was extracted to.
    pub dir: PathBuf,
    /// Runs now in the store.
    pub runs: usize,
    /// Checkpoint paths pointed into the bundle.
    pub checkpoints: usize,
    /// Final-model paths pointed into the bundle.
    pub final_models: usize,
    /// Manifest entries whose file is not in the bundle (their paths are still rewritten).
    pub missing: Vec<Missing>,
}

/// Tables a file must have to count as a training database.
const REQUIRED_TABLES: [&str; 3] = ["runs", "checkpoints", "metrics"];

fn sqlite_error(message: String) -> Error {
    Error::bundle("ERR_BUNDLE_SQLITE", message)
}

impl Training<'_> {
    /// `loadBundle(src)`: see [`load`].
    pub fn load_bundle(&self, src: &Path, sink: Sink<'_>) -> Result<LoadReport> {
        load(self.conn(), self.db.path(), src, sink)
    }
}

/// [`load`] into the store file `live_path`, on a connection of its own (for a load that runs off
/// the thread owning the store's connection).
pub fn load_into_file(live_path: &Path, src: &Path, sink: Sink<'_>) -> Result<LoadReport> {
    let conn = connect(live_path, "loading a bundle on a connection of its own")?;
    load(&conn, live_path, src, sink)
}

/// Replaces the training data of the store on `live` (the file `live_path`) with a bundle's.
///
/// `src` is the bundle folder, its `bundle.json`, or a `.tar` of the folder (extracted into a new
/// folder beside it, every entry checked first). Everything is validated on a private copy
/// before the store is touched: the manifest (`ERR_BUNDLE_MANIFEST`, `ERR_BUNDLE_VERSION`),
/// every path in it (`ERR_BUNDLE_PATH`: relative and inside the folder, links included) and the
/// database (`ERR_BUNDLE_SQLITE`: opens, passes `quick_check`, has the training tables). Only
/// then are the training tables replaced, in one transaction; on any error the store is
/// unchanged. Checkpoint and final-model paths are rewritten to the bundle's files.
pub fn load(live: &Connection, live_path: &Path, src: &Path, sink: Sink<'_>) -> Result<LoadReport> {
    let mut meter = Meter::new(sink);
    let is_tar = fs::metadata(src).is_ok_and(|m| m.is_file())
        && src
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tar"));
    let extracted = if is_tar {
        meter.phase(Phase::Extract)?;
        Some(archive::extract(src, &mut meter)?)
    } else {
        None
    };
    let folder = extracted
        .as_ref()
        .map_or(src, |(_, bundle)| bundle.as_path());
    let result = load_folder(live, live_path, folder, &mut meter);
    if let (Err(_), Some((created, _))) = (&result, &extracted) {
        // Extracted for this load only.
        let _ = fs::remove_dir_all(created);
    }
    result
}

/// A manifest entry resolved inside the bundle folder.
struct Entry {
    id: String,
    rel: String,
    path: PathBuf,
}

/// The entries whose file is absent from the bundle.
fn missing_files<'a>(
    kind: &'static str,
    entries: &'a [Entry],
) -> impl Iterator<Item = Missing> + 'a {
    entries
        .iter()
        .filter(|e| !e.path.is_file())
        .map(move |e| Missing {
            kind,
            id: e.id.clone(),
            path: e.rel.clone(),
            reason: "not in the bundle".into(),
        })
}

fn load_folder(
    live: &Connection,
    live_path: &Path,
    dir: &Path,
    meter: &mut Meter<'_>,
) -> Result<LoadReport> {
    let root = locate(dir)?;
    let manifest = read_manifest(&root)?;
    let resolve = |field: &str, (id, rel): &(String, String)| {
        resolve_inside(&root, rel)
            .map(|path| Entry {
                id: id.clone(),
                rel: rel.clone(),
                path,
            })
            .map_err(|why| {
                Error::bundle(
                    "ERR_BUNDLE_PATH",
                    format!("bundle.json {field}[{id:?}] = {rel:?} {why}"),
                )
            })
    };
    let checkpoints = manifest
        .checkpoints
        .iter()
        .map(|e| resolve("checkpoints", e))
        .collect::<Result<Vec<_>>>()?;
    let final_models = manifest
        .final_models
        .iter()
        .map(|e| resolve("final_models", e))
        .collect::<Result<Vec<_>>>()?;
    let db_src = resolve_inside(&root, SQLITE_FILE)
        .map_err(|why| Error::bundle("ERR_BUNDLE_PATH", format!("{SQLITE_FILE} {why}")))?;
    if !db_src.is_file() {
        return Err(sqlite_error(format!(
            "{} has no {SQLITE_FILE}",
            root.display()
        )));
    }

    let staged = sibling(live_path, "incoming");
    meter.add_total(fs::metadata(&db_src).map_or(0, |m| m.len()));
    let result = meter
        .phase(Phase::Copy)
        .and_then(|()| copy_file(&db_src, &staged, meter))
        .and_then(|_| prepare_staged(&staged, &checkpoints, &final_models, meter))
        .and_then(|()| {
            meter.phase(Phase::Replace)?;
            replace_training_tables(live, &staged)
        });
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = staged.clone().into_os_string();
        p.push(suffix);
        // Cleanup of our own private copy; a leftover is hidden and harmless.
        let _ = fs::remove_file(PathBuf::from(p));
    }
    let runs = result?;
    meter.phase(Phase::Done)?;
    let missing = missing_files("checkpoint", &checkpoints)
        .chain(missing_files("final_model", &final_models))
        .collect();
    Ok(LoadReport {
        dir: root,
        runs,
        checkpoints: checkpoints.len(),
        final_models: final_models.len(),
        missing,
    })
}

/// Replaces every training table of the live file with the staged file's, in one transaction;
/// returns the number of runs loaded.
fn replace_training_tables(conn: &Connection, staged: &Path) -> Result<usize> {
    let staged_str = staged
        .to_str()
        .ok_or_else(|| Error::InvalidArg(format!("{} is not a UTF-8 path", staged.display())))?;
    conn.execute("ATTACH DATABASE ?1 AS incoming", [staged_str])?;
    let result = write_tx(conn, |c| {
        let mut tables: Vec<String> = schema::shapes()
            .last()
            .map(|s| s.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let mut legacy = c.prepare(
            "SELECT name FROM incoming.sqlite_schema WHERE type = 'table'
             AND name LIKE 'report_loss_dist_legacy%' ORDER BY name",
        )?;
        for name in legacy.query_map([], |r| r.get::<_, String>(0))? {
            tables.push(name?);
        }
        for table in &tables {
            copy_table(c, table)?;
        }
        Ok(c.query_row("SELECT count(*) FROM main.runs", [], |r| r.get::<_, i64>(0))?)
    });
    let detached = conn.execute("DETACH DATABASE incoming", []);
    let runs = result?;
    detached?;
    Ok(usize::try_from(runs).unwrap_or(0))
}

/// Replaces the rows of `main.table` with those of `incoming.table`, adding to `main` any
/// column (or the whole table) only the incoming file has.
fn copy_table(c: &Connection, table: &str) -> Result<()> {
    let name = ident(table);
    let Some(src) = table_columns(c, "incoming", table)? else {
        c.execute(&format!("DELETE FROM main.{name}"), [])?;
        return Ok(());
    };
    let live = match table_columns(c, "main", table)? {
        Some(cols) => cols,
        None => {
            c.execute_batch(&format!(
                "CREATE TABLE main.{name} AS SELECT * FROM incoming.{name} WHERE 0"
            ))?;
            table_columns(c, "main", table)?.unwrap_or_default()
        }
    };
    for col in src
        .iter()
        .filter(|s| !live.iter().any(|l| l.name.eq_ignore_ascii_case(&s.name)))
    {
        c.execute_batch(&format!(
            "ALTER TABLE main.{name} ADD COLUMN {} {}",
            ident(&col.name),
            col.decl_type
        ))?;
    }
    // Rowids are kept where a table has no column of its own for them (the series summaries
    // refer to `metrics` rows by rowid), and rows are copied in rowid order where there is one.
    let mut cols = src.iter().map(|c| ident(&c.name)).collect::<Vec<_>>();
    let (rowid_table, hidden_rowid) = rowid_kind(c, table)?;
    if hidden_rowid {
        cols.insert(0, "rowid".into());
    }
    let cols = cols.join(", ");
    let order = if rowid_table { " ORDER BY rowid" } else { "" };
    c.execute(&format!("DELETE FROM main.{name}"), [])?;
    c.execute(
        &format!("INSERT INTO main.{name} ({cols}) SELECT {cols} FROM incoming.{name}{order}"),
        [],
    )?;
    Ok(())
}

/// Whether `incoming.table` has rowids, and whether they are hidden (no `INTEGER PRIMARY KEY`
/// column names them).
fn rowid_kind(c: &Connection, table: &str) -> Result<(bool, bool)> {
    let without_rowid: bool = c
        .prepare_cached("SELECT wr FROM pragma_table_list WHERE schema = 'incoming' AND name = ?1")?
        .query_row([table], |r| r.get(0))?;
    if without_rowid {
        return Ok((false, false));
    }
    let cols = table_columns(c, "incoming", table)?.unwrap_or_default();
    let pk: Vec<_> = cols.iter().filter(|c| c.pk).collect();
    Ok((
        true,
        !(pk.len() == 1 && pk[0].decl_type.eq_ignore_ascii_case("INTEGER")),
    ))
}

/// The canonical bundle folder for `dir` (a folder, or a file inside it such as bundle.json).
fn locate(dir: &Path) -> Result<PathBuf> {
    let not_found = |e: std::io::Error| {
        Error::bundle(
            "ERR_BUNDLE_NOT_FOUND",
            format!("no bundle at {}: {e}", dir.display()),
        )
    };
    let meta = fs::metadata(dir).map_err(not_found)?;
    let folder = if meta.is_dir() {
        dir
    } else {
        dir.parent().unwrap_or(Path::new("."))
    };
    folder.canonicalize().map_err(not_found)
}

fn read_manifest(root: &Path) -> Result<Manifest> {
    let path = resolve_inside(root, "bundle.json")
        .map_err(|why| Error::bundle("ERR_BUNDLE_PATH", format!("bundle.json {why}")))?;
    let meta = fs::metadata(&path).map_err(|_| {
        Error::bundle(
            "ERR_BUNDLE_NOT_FOUND",
            format!("{} has no bundle.json", root.display()),
        )
    })?;
    if !meta.is_file() {
        return Err(Error::bundle(
            "ERR_BUNDLE_MANIFEST",
            "bundle.json is not a file",
        ));
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(Error::bundle(
            "ERR_BUNDLE_MANIFEST",
            format!(
                "bundle.json is {} bytes, more than the {MAX_MANIFEST_BYTES} accepted",
                meta.len()
            ),
        ));
    }
    let text = fs::read_to_string(&path).map_err(|e| {
        Error::bundle(
            "ERR_BUNDLE_MANIFEST",
            format!("bundle.json cannot be read as UTF-8 text: {e}"),
        )
    })?;
    Manifest::parse(&text)
}

/// Checks the staged copy, migrates it to the current schema and points its file paths into the
/// bundle.
fn prepare_staged(
    staged: &Path,
    checkpoints: &[Entry],
    final_models: &[Entry],
    meter: &mut Meter<'_>,
) -> Result<()> {
    let as_bundle_error = |e: Error| match e {
        Error::Bundle { .. } => e,
        other => sqlite_error(format!(
            "{SQLITE_FILE} is not a usable training database: {other}"
        )),
    };
    meter.phase(Phase::Validate)?;
    let conn = Connection::open_with_flags(
        staged,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| as_bundle_error(e.into()))?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS.into()))
        .map_err(|e| as_bundle_error(e.into()))?;
    let check = integrity(&conn, true).map_err(as_bundle_error)?;
    if check != ["ok"] {
        let first: Vec<_> = check.into_iter().take(3).collect();
        return Err(sqlite_error(format!(
            "{SQLITE_FILE} fails SQLite's quick_check: {}",
            first.join("; ")
        )));
    }
    for table in REQUIRED_TABLES {
        if table_columns(&conn, "main", table)
            .map_err(as_bundle_error)?
            .is_none()
        {
            return Err(sqlite_error(format!(
                "{SQLITE_FILE} has no '{table}' table: it is not a training database"
            )));
        }
    }
    meter.phase(Phase::Migrate)?;
    schema::STORE
        .prepare(&conn, staged)
        .map_err(as_bundle_error)?;
    write_tx(&conn, |c| {
        let mut ckpt = c.prepare("UPDATE checkpoints SET path = ?1 WHERE ckpt_id = ?2")?;
        for e in checkpoints {
            ckpt.execute([e.path.to_string_lossy().as_ref(), e.id.as_str()])?;
        }
        let mut fm =
            c.prepare("UPDATE session_final_models SET ckpt_path = ?1 WHERE session_id = ?2")?;
        for e in final_models {
            fm.execute([e.path.to_string_lossy().as_ref(), e.id.as_str()])?;
        }
        Ok(())
    })
    .map_err(as_bundle_error)?;
    conn.close().map_err(|(_, e)| as_bundle_error(e.into()))
}
