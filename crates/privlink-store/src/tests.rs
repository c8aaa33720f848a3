//! Backend tests: every test runs on SQLite, and on PostgreSQL when
//! `PRIVLINK_TEST_POSTGRES_URL` is set (each in a schema of its own).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::{write, Claim, ListQuery, ResourceRow, Scope, Store, StoreError, Tx, WorkItem};

fn stores() -> Vec<(String, Arc<dyn Store>, Option<tempdir::Dir>)> {
    let mut out: Vec<(String, Arc<dyn Store>, Option<tempdir::Dir>)> = Vec::new();
    let dir = tempdir::Dir::new();
    let sqlite = crate::SqliteStore::open(&dir.path.join("store.db")).expect("open sqlite");
    out.push(("sqlite".into(), Arc::new(sqlite), Some(dir)));
    if let Ok(url) = std::env::var("PRIVLINK_TEST_POSTGRES_URL") {
        let schema = format!("storetest_{}", uuid::Uuid::new_v4().simple());
        let sep = if url.contains('?') { '&' } else { '?' };
        let pg = crate::PostgresStore::open(&format!("{url}{sep}schema={schema}")).expect("open postgres");
        out.push(("postgres".into(), Arc::new(pg), None));
    }
    out
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("privlink-store-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn row(key: &str, parent: &str, type_key: &str) -> ResourceRow {
    ResourceRow {
        key: key.to_lowercase(),
        id: key.to_string(),
        type_key: type_key.into(),
        subscription: "s1".into(),
        resource_group: "rg1".into(),
        parent_key: parent.into(),
        body: json!({"properties": {"k": key}}),
        etag: "e1".into(),
        created_at: 1,
        updated_at: 1,
    }
}

#[test]
fn documents_round_trip_and_list_in_key_order_with_paging() {
    for (name, store, _dir) in stores() {
        write(&*store, |tx| {
            for i in 0..5 {
                tx.put(&row(&format!("/S/rg/V{i}"), "", "t/vnet"))?;
            }
            tx.put(&row("/S/rg/V1/subnets/A", "/s/rg/v1", "t/subnet"))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let (first, page2, children, prefixed, count) = crate::read(&*store, |tx| {
            let q = ListQuery {
                scope: Scope::ResourceGroup { subscription: "s1", resource_group: "rg1" },
                type_key: Some("t/vnet"),
                after: None,
                limit: 2,
            };
            let first = tx.list(&q)?;
            let page2 = tx.list(&ListQuery { after: Some(&first[1].key), ..q })?;
            let children = tx.list(&ListQuery {
                scope: Scope::Children { parent_key: "/s/rg/v1" },
                type_key: None,
                after: None,
                limit: 10,
            })?;
            let prefixed = tx.list_prefix("/s/rg/v1/")?;
            let count = tx.count(Scope::Subscription { subscription: "s1" }, Some("t/vnet"))?;
            Ok::<_, StoreError>((first, page2, children, prefixed, count))
        })
        .unwrap();
        let keys = |rows: &[ResourceRow]| rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&first), ["/s/rg/v0", "/s/rg/v1"], "{name}");
        assert_eq!(keys(&page2), ["/s/rg/v2", "/s/rg/v3"], "{name}");
        assert_eq!(first[1].id, "/S/rg/V1", "{name}: casing kept");
        assert_eq!(first[1].body["properties"]["k"], "/S/rg/V1", "{name}");
        assert_eq!(keys(&children), ["/s/rg/v1/subnets/a"], "{name}");
        assert_eq!(keys(&prefixed), ["/s/rg/v1/subnets/a"], "{name}");
        assert_eq!(count, 5, "{name}");
    }
}

#[test]
fn aborted_write_changes_nothing() {
    for (name, store, _dir) in stores() {
        let result: Result<(), String> = write(&*store, |tx| {
            tx.put(&row("/s/rg/x", "", "t"))?;
            tx.ip_pool_create("p", 4, 10)?;
            Err("validation failed".to_string())
        });
        assert_eq!(result, Err("validation failed".to_string()), "{name}");
        assert!(crate::read(&*store, |tx| tx.get("/s/rg/x")).unwrap().is_none(), "{name}: document rolled back");
        let allocated = write(&*store, |tx| tx.ip_allocate("p", "someone")).unwrap();
        assert_eq!(allocated, None, "{name}: the pool was rolled back too, so nothing can be allocated from it");
    }
}

impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}

#[test]
fn ip_pool_allocates_lowest_free_claims_and_merges_released_ranges() {
    for (name, store, _dir) in stores() {
        write(&*store, |tx: &mut dyn Tx| {
            tx.ip_pool_create("sub#p", 4, 9)?;
            assert_eq!(tx.ip_allocate("sub#p", "a")?, Some(4));
            assert_eq!(tx.ip_claim("sub#p", 6, "b")?, Claim::Claimed);
            assert_eq!(tx.ip_allocate("sub#p", "c")?, Some(5));
            assert_eq!(tx.ip_allocate("sub#p", "c")?, Some(7));
            assert_eq!(tx.ip_claim("sub#p", 6, "z")?, Claim::Taken { owner: "b".into() });
            assert_eq!(tx.ip_claim("sub#p", 3, "z")?, Claim::Unavailable);
            assert_eq!(tx.ip_claim("sub#p", 10, "z")?, Claim::Unavailable);
            assert_eq!(tx.ip_owned("c")?, vec![("sub#p".to_string(), 5), ("sub#p".to_string(), 7)]);
            assert_eq!(tx.ip_release_owner("c")?, 2);
            assert_eq!(tx.ip_release_owner("b")?, 1);
            // 5, 6, 7 free again and merged with 8..9: the next three allocations are 5, 6, 7.
            assert_eq!(tx.ip_allocate("sub#p", "d")?, Some(5));
            assert_eq!(tx.ip_allocate("sub#p", "d")?, Some(6));
            assert_eq!(tx.ip_allocate("sub#p", "d")?, Some(7));
            assert_eq!(tx.ip_allocate("sub#p", "d")?, Some(8));
            assert_eq!(tx.ip_allocate("sub#p", "d")?, Some(9));
            assert_eq!(tx.ip_allocate("sub#p", "d")?, None);
            assert_eq!(tx.ip_count("sub#")?, 6);
            assert_eq!(tx.ip_count_foreign("sub#", "d")?, 1);
            Ok::<_, StoreError>(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn concurrent_allocations_never_share_an_address() {
    for (name, store, _dir) in stores() {
        write(&*store, |tx| tx.ip_pool_create("pool", 4, 10_000)).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .map(|i| {
                            write(&*store, |tx| tx.ip_allocate("pool", &format!("owner-{t}-{i}")))
                                .expect("allocate")
                                .expect("not exhausted")
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        let all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 400, "{name}");
        assert_eq!(distinct.len(), 400, "{name}: duplicates handed out");
        assert_eq!(*distinct.iter().min().unwrap(), 4, "{name}");
        assert_eq!(*distinct.iter().max().unwrap(), 403, "{name}: lowest-first, no holes");
    }
}

#[test]
fn work_queue_orders_by_due_time_and_survives_reopen() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("q.db");
    {
        let store = crate::SqliteStore::open(&path).unwrap();
        write(&store, |tx| {
            for (id, due) in [("b", 20), ("a", 10), ("c", i64::MAX)] {
                tx.work_enqueue(&WorkItem {
                    id: id.into(),
                    kind: "k".into(),
                    resource_key: "/r".into(),
                    operation_id: format!("op-{id}"),
                    payload: json!({"n": id}),
                    not_before: due,
                    attempts: 0,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }
    let store = crate::SqliteStore::open(&path).unwrap();
    let (due, next, by_op) = crate::read(&store, |tx| {
        Ok::<_, StoreError>((tx.work_due(15, 10)?, tx.work_next_due()?, tx.work_for_operation("op-c")?))
    })
    .unwrap();
    assert_eq!(due.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(due[0].payload["n"], "a");
    assert_eq!(next, Some(10));
    assert_eq!(by_op.map(|w| w.id), Some("c".to_string()));
}

#[test]
fn change_stream_publishes_only_committed_writes() {
    for (name, store, _dir) in stores() {
        let mut rx = store.subscribe();
        let _ = write(&*store, |tx| {
            tx.put(&row("/s/rg/rolled-back", "", "t"))?;
            Err::<(), String>("no".into())
        });
        write(&*store, |tx| {
            tx.put(&row("/s/rg/kept", "", "t"))?;
            tx.delete("/s/rg/kept")?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let first = rx.try_recv().expect("upsert");
        let second = rx.try_recv().expect("delete");
        assert_eq!((first.key.as_str(), first.kind), ("/s/rg/kept", crate::ChangeKind::Upsert), "{name}");
        assert_eq!(second.kind, crate::ChangeKind::Delete, "{name}");
        assert!(rx.try_recv().is_err(), "{name}");
    }
}

/// A reader that sees a commit and then calls `published` finds its change on the stream, even
/// while the writer is between COMMIT and sending (what the data planes' barrier relies on).
#[test]
fn a_visible_commit_is_on_the_stream_once_published_returns() {
    for (name, store, _dir) in stores() {
        let mut rx = store.subscribe();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    write(&*store, |tx| tx.put(&row(&format!("/s/rg/r{i}"), "", "t"))).expect("write");
                }
            })
        };
        let mut heard = HashSet::new();
        for i in 0..300 {
            let key = format!("/s/rg/r{i}");
            while crate::read(&*store, |tx| tx.get(&key)).expect("read").is_none() {
                std::thread::yield_now();
            }
            store.published();
            while let Ok(change) = rx.try_recv() {
                heard.insert(change.key);
            }
            assert!(heard.contains(&key), "{name}: {key} visible, published() returned, not on the stream");
        }
        writer.join().expect("writer");
    }
}
