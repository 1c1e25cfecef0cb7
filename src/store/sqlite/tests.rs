use serde_json::value::RawValue;

use super::writer::{prune, write};
use super::*;
use crate::backend::{Language, Limits};
use crate::router::Isolation;

fn record(id: &str, status: Status) -> Record {
    Record {
        id: id.into(),
        created_at_ms: 1,
        status,
        backend: BackendKind::Wasm,
        route_reason: "requested".into(),
        tag: None,
        isolation: Isolation::Wasm,
        language: Language::Javascript,
        limits: Limits {
            timeout_ms: 1,
            memory_mb: 1,
            fuel: None,
            max_output_bytes: 1,
            max_log_bytes: 1,
            max_log_lines: 1,
        },
        output: None,
        error: None,
        logs: vec![],
        logs_truncated: false,
        duration_ms: 0.5,
        metadata: None,
        code: "\n  export default () => 1;\n".into(),
        input: RawValue::from_string("null".into()).unwrap(),
        callback_url: None,
        callback: None,
        tenant: "default".into(),
        key_id: None,
        cpu_ms: None,
    }
}

fn open(dir: &Path) -> (SqliteStore, IntCounter) {
    let errors = IntCounter::new("errors", "history write errors").unwrap();
    (
        SqliteStore::open(&dir.join("vulcan.db"), 100, errors.clone()).unwrap(),
        errors,
    )
}

async fn ids(store: &SqliteStore, query: ListQuery) -> Vec<String> {
    let summaries = store.list(query).await.unwrap();
    summaries.into_iter().map(|summary| summary.id).collect()
}

fn newest(limit: u32) -> ListQuery {
    ListQuery {
        limit,
        ..Default::default()
    }
}

#[tokio::test]
async fn records_are_listed_newest_first_with_filters_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (store, errors) = open(dir.path());
    for (id, status) in [
        ("a", Status::Succeeded),
        ("b", Status::Timeout),
        ("c", Status::Succeeded),
    ] {
        assert!(store.record(record(id, status)).await);
    }
    let all = store.list(newest(10)).await.unwrap();
    let listed: Vec<_> = all.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed, ["c", "b", "a"]);
    assert_eq!(all[0].code_preview, "export default () => 1;");
    let ok = ListQuery {
        limit: 10,
        status: Some(Status::Succeeded),
        before: Some("c".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store, ok).await, ["a"]);
    store.close();
    drop(store);

    let (reopened, _) = open(dir.path());
    let b = reopened.get("b".into()).await.unwrap().expect("b survives");
    assert_eq!(b.status, Status::Timeout);
    assert!(reopened.get("zzz".into()).await.unwrap().is_none());
    assert_eq!(errors.get(), 0);
}

#[tokio::test]
async fn a_record_can_be_read_back_as_soon_as_it_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    for n in 0..50 {
        let id = format!("{n:03}");
        assert!(store.record(record(&id, Status::Succeeded)).await);
        let read = store.get(id.clone()).await.unwrap();
        assert_eq!(read.map(|r| r.id), Some(id), "read right after record");
    }
}

#[tokio::test]
async fn records_queued_together_are_all_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, errors) = open(dir.path());
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..300)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .record(record(&format!("{n:03}"), Status::Succeeded))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    // Retention is 100 records, but pruning runs every 500: all 300 are still there.
    let listed = ids(&store, newest(500)).await;
    assert_eq!(listed.len(), 300);
    assert_eq!(listed[0], "299");
    assert_eq!(errors.get(), 0);
}

#[tokio::test]
async fn a_failed_write_costs_only_its_own_record_and_later_answers_wait_for_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, errors) = open(dir.path());
    assert!(store.record(record("a", Status::Succeeded)).await);
    // A second "a" breaks the primary key. Queued in the same instant as "b" and "c" (and
    // after them), it may share their transaction; they are written all the same.
    let (b, c, _) = tokio::join!(
        store.record(record("b", Status::Succeeded)),
        store.record(record("c", Status::Succeeded)),
        store.record(record("a", Status::Error)),
    );
    assert!(b && c);
    assert_eq!(ids(&store, newest(10)).await, ["c", "b", "a"]);
    assert_eq!(errors.get(), 1);
    assert_eq!(
        store.get("a".into()).await.unwrap().unwrap().status,
        Status::Succeeded
    );

    // The history is now failing: the next answer waits for its own write and is exact.
    assert!(!store.record(record("b", Status::Error)).await);
    assert_eq!(errors.get(), 2);
    // One that is written ends that; later records are written behind again.
    assert!(store.record(record("d", Status::Succeeded)).await);
    assert!(!store.failing.load(Ordering::SeqCst));
    assert!(store.record(record("e", Status::Succeeded)).await);
    assert_eq!(ids(&store, newest(2)).await, ["e", "d"]);
}

#[tokio::test]
async fn closing_writes_what_was_queued_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (store, errors) = open(dir.path());
    for id in ["a", "b", "c"] {
        assert!(store.record(record(id, Status::Succeeded)).await);
    }
    store.close();
    assert!(!store.record(record("d", Status::Succeeded)).await);
    assert_eq!(errors.get(), 1);
    drop(store);
    let (reopened, _) = open(dir.path());
    assert_eq!(ids(&reopened, newest(10)).await, ["c", "b", "a"]);
}

#[test]
fn pruning_keeps_the_newest_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
    schema::migrate(&mut conn).unwrap();
    for id in ["1", "2", "3", "4"] {
        write(&conn, &record(id, Status::Succeeded)).unwrap();
    }
    assert_eq!(prune(&conn, 2).unwrap(), 2);
    let left: Vec<String> = conn
        .prepare("SELECT id FROM workloads ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(left, ["3", "4"]);
}

#[tokio::test]
async fn an_unversioned_database_is_taken_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vulcan.db");
    // A database of an agent from before versioning: the table, user_version 0, a record.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE workloads (id TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL, status TEXT NOT NULL, backend TEXT NOT NULL, summary TEXT NOT NULL, record TEXT NOT NULL)").unwrap();
    let (summary, json) = crate::store::codec::encode(&record("old", Status::Succeeded));
    conn.execute(
        "INSERT INTO workloads VALUES ('old', 1, 'succeeded', 'wasm', ?1, ?2)",
        [summary, json],
    )
    .unwrap();
    let (store, _) = open(dir.path());
    assert_eq!(ids(&store, newest(10)).await, ["old"]);
    store.close();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::latest());

    conn.pragma_update(None, "user_version", schema::latest() + 1)
        .unwrap();
    let errors = IntCounter::new("errors", "history write errors").unwrap();
    match SqliteStore::open(&path, 100, errors) {
        Ok(_) => panic!("a newer schema was opened"),
        Err(err) => assert!(
            err.to_string().contains("newer than this agent knows"),
            "{err}"
        ),
    }
}
