//! The floor of bench/run.js: the same workloads as bench/workloads.js on raw rusqlite (the
//! engine stowage is built on), with results kept in Rust memory. Prints JSON like the JS runner.
//!
//!     cargo run --release -p stowage-bench-floor -- <data dir> <runs>

use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{params, Connection};

const INSERT: &str =
    "INSERT INTO metrics (run_id, step, epoch, loss, val_loss, accuracy, lr, grad_norm,
    weight_norm, activation_zero_frac, throughput, mem_vram, gpu_util, ts)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, step INTEGER, epoch INTEGER,
    loss REAL, val_loss REAL, accuracy REAL, lr REAL, grad_norm REAL, weight_norm REAL,
    activation_zero_frac REAL, throughput REAL, mem_vram REAL, gpu_util REAL, ts INTEGER);
    CREATE INDEX IF NOT EXISTS idx_metrics_run_step ON metrics(run_id, step);
    CREATE INDEX IF NOT EXISTS idx_metrics_run ON metrics(run_id);";

fn open(path: &Path) -> Connection {
    let c = Connection::open(path).expect("open");
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .expect("pragmas");
    c
}

fn row(step: i64) -> [Option<f64>; 12] {
    let s = step as f64;
    [
        Some(s),
        Some((step / 1000) as f64),
        Some(1.0 / (s + 1.0)),
        (step % 10 == 0).then(|| 2.0 / (s + 1.0)),
        Some(0.5),
        Some(0.001),
        Some(1.5),
        Some(30.0),
        Some(0.1),
        Some(900.0),
        Some(2048.0),
        Some(90.0),
    ]
}

fn insert(c: &Connection, run: &str, r: &[Option<f64>; 12], ts: i64) {
    c.prepare_cached(INSERT)
        .expect("prepare")
        .execute(params![
            run, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], ts
        ])
        .expect("insert");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(args.get(1).expect("usage: floor <data dir> <runs>"));
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let scratch = data.join(format!("scratch-floor-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let dir = scratch.join(format!("w{n}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let c = open(&dir.join("runs.sqlite"));
        c.execute_batch(SCHEMA).expect("schema");
        c
    };
    let reads = data.join("reads").join("runs.sqlite");
    let big = data.join("big").join("runs.sqlite");
    let mut out = Vec::new();
    let mut bench = |name: &str, ops: u64, f: &mut dyn FnMut() -> f64| {
        let mut times: Vec<f64> = (0..=runs).map(|_| f()).skip(1).collect();
        times.sort_by(f64::total_cmp);
        out.push(format!(
            "\"{name}\":{{\"ms\":{},\"ops\":{ops}}}",
            times[times.len() / 2]
        ));
    };
    let timed = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1000.0
    };

    bench("insertMetric x5000 (autocommit)", 5000, &mut || {
        let c = fresh();
        timed(&mut || (0..5000).for_each(|i| insert(&c, "run", &row(i), 0)))
    });
    bench("insertMetric.batch 100k", 100_000, &mut || {
        let c = fresh();
        let rows: Vec<_> = (0..100_000).map(row).collect();
        timed(&mut || {
            c.execute_batch("BEGIN IMMEDIATE").expect("begin");
            rows.iter().for_each(|r| insert(&c, "run", r, 0));
            c.execute_batch("COMMIT").expect("commit");
        })
    });
    bench("insertMetricColumns 100k", 100_000, &mut || {
        let c = fresh();
        let cols: Vec<Vec<f64>> = (0..12)
            .map(|k| {
                (0..100_000)
                    .map(|i| row(i)[k].unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        timed(&mut || {
            c.execute_batch("BEGIN IMMEDIATE").expect("begin");
            for i in 0..100_000 {
                let mut r = [None; 12];
                for (k, col) in cols.iter().enumerate() {
                    r[k] = Some(col[i]).filter(|v| !v.is_nan());
                }
                insert(&c, "run", &r, 0);
            }
            c.execute_batch("COMMIT").expect("commit");
        })
    });
    let read_rows = |c: &Connection, run: &str| -> Vec<[Option<f64>; 12]> {
        let mut stmt = c
            .prepare_cached(
                "SELECT step, epoch, loss, val_loss, accuracy, lr, grad_norm, weight_norm,
                 activation_zero_frac, throughput, mem_vram, gpu_util FROM metrics
                 WHERE run_id = ?1 ORDER BY step ASC",
            )
            .expect("prepare");
        let mut rows = stmt.query([run]).expect("query");
        let mut v = Vec::new();
        while let Some(r) = rows.next().expect("step") {
            let mut a = [None; 12];
            for (i, slot) in a.iter_mut().enumerate() {
                *slot = r.get::<_, Option<f64>>(i).expect("value");
            }
            v.push(a);
        }
        v
    };
    let c = open(&reads);
    bench("getRunRows 100 (trial: all 100)", 100, &mut || {
        timed(&mut || assert_eq!(read_rows(&c, "r100").len(), 100))
    });
    bench("getRunRows 100k", 100_000, &mut || {
        timed(&mut || assert_eq!(read_rows(&c, "r100k").len(), 100_000))
    });
    bench("getRunRows 1M", 1_000_000, &mut || {
        timed(&mut || assert_eq!(read_rows(&c, "r1m").len(), 1_000_000))
    });
    bench(
        "getRunColumns 1M (loss, val_loss, lr, gpu_util)",
        1_000_000,
        &mut || {
            timed(&mut || {
                let mut stmt = c
                .prepare_cached("SELECT step, loss, val_loss, lr, gpu_util FROM metrics WHERE run_id = ?1 ORDER BY step ASC")
                .expect("prepare");
                let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 5];
                let mut rows = stmt.query(["r1m"]).expect("query");
                while let Some(r) = rows.next().expect("step") {
                    for (i, col) in cols.iter_mut().enumerate() {
                        col.push(
                            r.get::<_, Option<f64>>(i)
                                .expect("value")
                                .unwrap_or(f64::NAN),
                        );
                    }
                }
                assert_eq!(cols[0].len(), 1_000_000);
            })
        },
    );
    bench("getFinalModel (trial: get)", 1000, &mut || {
        timed(&mut || {
            let mut stmt = c
                .prepare_cached("SELECT session_id, run_id, ckpt_path, step, avg_test_loss, updated_at FROM session_final_models WHERE session_id = ?1")
                .expect("prepare");
            for i in 0..1000 {
                let id = format!("sess-{}", (i * 7919) % 1000);
                let _: Option<String> = stmt.query_row([id], |r| r.get(2)).ok();
            }
        })
    });
    drop(c);
    bench("open an existing 1 GiB file", 1, &mut || {
        timed(&mut || {
            let c = open(&big);
            c.execute_batch(SCHEMA).expect("schema");
        })
    });
    std::fs::remove_dir_all(&scratch).ok();
    println!(
        "{{\"engine\":\"rusqlite\",\"results\":{{{}}}}}",
        out.join(",")
    );
}
