//! Answer writes per second at 64 concurrent writers, per backend, beside a bare
//! one-transaction write of the same backend measured in the same run.
//!
//! `cargo bench -p server --bench store` (seconds per measurement: `STAGEWISE_BENCH_SECS`,
//! default 5). Redis is a private `redis-server` with AOF and `appendfsync always`, started
//! here on a free loopback port; redb writes a file in a temporary folder.
//!
//! - bare redb: one write transaction per request, one row, a durable commit each;
//! - bare Redis: `MULTI HSET RPUSH EXEC` per request;
//! - store: `Store::execute` with validation-free synthetic answers (two answers, their
//!   events, the idempotency record and the meta, atomically).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redb::TableDefinition;
use server::store::SharedStore;
use server::store::load::request_of;

const WRITERS: usize = 64;
const BARE: TableDefinition<u64, &[u8]> = TableDefinition::new("bare");

fn seconds() -> u64 {
    std::env::var("STAGEWISE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Runs `write(writer, index)` from 64 tasks until the time is up; returns writes/s.
async fn measure<F, Fut>(write: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let write = Arc::new(write);
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let write = Arc::clone(&write);
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let mut index = 0;
            while Instant::now() < deadline {
                write(writer, index).await;
                index += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn store_writes(store: SharedStore) -> f64 {
    measure(move |writer, index| {
        let store = Arc::clone(&store);
        async move {
            let request = request_of(writer, index).expect("request");
            store.execute(&request).await.expect("execute");
        }
    })
    .await
}

fn main() {
    let runtime = tests::bench_runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let redis = tests::RedisServer::start();

    let rows = runtime.block_on(async {
        // redb, bare: one durable commit per write.
        let database = Arc::new(redb::Database::create(dir.path().join("bare.redb")).expect("db"));
        let bare_redb = measure({
            let database = Arc::clone(&database);
            move |writer, index| {
                let database = Arc::clone(&database);
                async move {
                    tokio::task::spawn_blocking(move || {
                        let txn = database.begin_write().expect("begin");
                        {
                            let mut table = txn.open_table(BARE).expect("table");
                            let key = (writer as u64) << 32 | index as u64;
                            table
                                .insert(key, &b"{\"v\":1,\"value\":3}"[..])
                                .expect("insert");
                        }
                        txn.commit().expect("commit");
                    })
                    .await
                    .expect("blocking write");
                }
            }
        })
        .await;
        drop(database);
        let redb_store: SharedStore =
            Arc::new(server::store::redb::open(&dir.path().join("store.redb")).expect("open"));
        let store_redb = store_writes(Arc::clone(&redb_store)).await;
        redb_store.close().await.expect("close");

        // Redis, bare: MULTI HSET RPUSH EXEC.
        let client = redis::Client::open(redis.url()).expect("client");
        let connection = client.get_connection_manager().await.expect("connection");
        let bare_redis = measure(move |writer, index| {
            let mut connection = connection.clone();
            async move {
                let hash = format!("bare:{{w{writer}}}:answers");
                let list = format!("bare:{{w{writer}}}:events");
                let _: () = redis::pipe()
                    .atomic()
                    .hset(&hash, index % 40, "{\"v\":1,\"value\":3}")
                    .ignore()
                    .rpush(&list, "{\"v\":1,\"seq\":1}")
                    .ignore()
                    .query_async(&mut connection)
                    .await
                    .expect("bare redis write");
            }
        })
        .await;
        let redis_store: SharedStore = Arc::new(
            server::store::redis::connect(&redis.url(), "bench")
                .await
                .expect("connect"),
        );
        let store_redis = store_writes(redis_store).await;
        [
            ("redb", bare_redb, store_redb),
            ("redis", bare_redis, store_redis),
        ]
    });

    println!(
        "answer writes per second, {WRITERS} concurrent writers, {} s each, {} cores",
        seconds(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<8} {:>22} {:>22} {:>8}",
        "backend", "bare transaction/s", "Store::execute/s", "ratio"
    );
    for (backend, bare, store) in rows {
        println!(
            "{backend:<8} {bare:>22.0} {store:>22.0} {:>7.2}x",
            store / bare
        );
    }
}
