//! The reference ceiling of DESIGN.md ("Speed and size"), measured on this machine: a
//! trivial `{ ping }` on poem + async-graphql, and beside it, in the same run, a bare Redis
//! mutation (`MULTI HSET XADD EXEC`, nothing else: no token, no validation, no
//! idempotency, no event), over HTTP, wrk, 64 connections. It runs once for each
//! `appendfsync` setting of the same private `redis-server` (`always`, which the README
//! recommends, then `everysec`), so that the API bench's `saveAnswers` ratio on Redis can
//! be read against what a write costs at all with that durability on this disk.
//!
//! `cargo bench -p server --bench ceiling` (needs `wrk`). Seconds per measurement:
//! `STAGEWISE_BENCH_SECS` (default 10).

use async_graphql::{Context, EmptySubscription, Object, Schema};
use async_graphql_poem::GraphQL;
use poem::{Route, Server, listener::TcpListener, post};
use redis::aio::ConnectionManager;
use tests::wrk;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 64;
/// As many hashes and streams as the API bench has responses.
const KEYS: i32 = 64;
const TOKEN: &str = "bench-admin-token-secret";

struct Query;

#[Object]
impl Query {
    /// Always true.
    async fn ping(&self) -> bool {
        true
    }
}

struct Mutation;

#[Object]
impl Mutation {
    /// One hash field and one stream entry, in one transaction.
    async fn write(&self, ctx: &Context<'_>, n: i32) -> async_graphql::Result<bool> {
        let mut con = ctx.data_unchecked::<ConnectionManager>().clone();
        let slot = n.rem_euclid(KEYS);
        let () = redis::pipe()
            .atomic()
            .hset(format!("h:{slot}"), "v", n)
            .ignore()
            .cmd("XADD")
            .arg(format!("s:{slot}"))
            .arg("*")
            .arg("v")
            .arg(n)
            .ignore()
            .query_async(&mut con)
            .await?;
        Ok(true)
    }
}

fn main() {
    let runtime = tests::bench_runtime();
    let redis = tests::RedisServer::start();
    let scripts = tempfile::tempdir().expect("temp dir");
    // The token goes unread: it only keeps the requests the size of the API bench's.
    let ping = wrk::post_script(scripts.path(), "ping", TOKEN, r#"'{"query":"{ ping }"}'"#);
    let write = wrk::post_script(
        scripts.path(),
        "write",
        TOKEN,
        r#"'{"query":"mutation($n: Int!) { write(n: $n) }","variables":{"n":' .. n .. '}}'"#,
    );
    let url: std::net::SocketAddr = runtime.block_on(async {
        let client = redis::Client::open(redis.url()).expect("redis url");
        let con = ConnectionManager::new(client)
            .await
            .expect("connect to redis");
        let schema = Schema::build(Query, Mutation, EmptySubscription)
            .data(con)
            .finish();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let app = Route::new().at("/graphql", post(GraphQL::new(schema)));
        tokio::spawn(Server::new(TcpListener::bind(address)).run(app));
        address
    });
    // Wait for the listener.
    runtime.block_on(async {
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(url).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the bench server did not listen on {url}");
    });
    let port = url.port();
    wrk::probe(port, TOKEN, &ping);
    wrk::probe(port, TOKEN, &write);
    let url = format!("http://{url}");
    println!(
        "Reference ceiling: poem + async-graphql in this process, wrk -t2 -d{}s, {CONNECTIONS} connections, {} cores",
        wrk::seconds(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!("appendfsync  request                 per second   ratio  wrk");
    for fsync in ["always", "everysec"] {
        let reply = redis.command(&["CONFIG", "SET", "appendfsync", fsync]);
        assert!(
            reply.starts_with("+OK"),
            "CONFIG SET appendfsync {fsync}: {reply}"
        );
        let before = stream_entries(&redis);
        let base = wrk::run(&url, &ping, CONNECTIONS);
        let written = wrk::run(&url, &write, CONNECTIONS);
        // Every acknowledged write is in Redis, so none was measured as fast by failing.
        let stored = stream_entries(&redis) - before;
        assert!(
            stored >= written.requests,
            "{} writes acknowledged, {stored} stored",
            written.requests
        );
        println!(
            "{fsync:<12} {{ ping }}              {:>10.0}   1.00x  {}",
            base.rate, base.note
        );
        println!(
            "{fsync:<12} MULTI HSET XADD EXEC  {:>10.0}   {:.2}x  {}",
            written.rate,
            written.rate / base.rate,
            written.note
        );
    }
}

/// Entries in all the streams.
fn stream_entries(redis: &tests::RedisServer) -> u64 {
    (0..KEYS)
        .map(|slot| {
            let reply = redis.command(&["XLEN", &format!("s:{slot}")]);
            reply
                .trim()
                .strip_prefix(':')
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("XLEN s:{slot} replied {reply:?}"))
        })
        .sum()
}
