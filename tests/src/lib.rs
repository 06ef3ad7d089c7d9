//! Helpers shared by the tests of every crate: locating the repository's folders and
//! starting real services (a private `redis-server`, an SMTP sink in `smtp`) on free loopback ports,
//! a fault-injecting TCP proxy (`proxy`), a load of answer writes with its check (`load`), wrk's
//! scripts and runs (`wrk`) and the benchmarks' runtime ([`bench_runtime`]).
//!
//! Only test support lives here, no product logic. Each service is a child process that
//! is killed when its handle drops; readiness is polled, never slept for.

pub mod load;
pub mod proxy;
pub mod smtp;
pub mod wrk;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (the workspace folder).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The shipped questionnaire folder.
pub fn questionnaires_dir() -> PathBuf {
    workspace_root().join("questionnaires")
}

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed at once).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// Waits until `ready` returns true, polling with a short back-off, for at most `limit`.
///
/// # Panics
/// When `limit` passes first, with `what` in the message.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    while !ready() {
        assert!(start.elapsed() < limit, "{what} not ready after {limit:?}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A private `redis-server` with AOF (`appendfsync always`) in a temporary directory, on
/// a free loopback port. Killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// Extra `redis-server` arguments (cluster mode).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts one.
    ///
    /// # Panics
    /// When `redis-server` is not installed (the message says how to install it) or does
    /// not become ready.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory for redis-server");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            extra: Vec::new(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--dir", &self.dir.path().display().to_string()])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .args(["--logfile", "redis.log"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}); install it with `apt-get install -y redis-server` \
                     (.ci/run does this when it is missing)"
                )
            });
        self.child = Some(child);
        let port = self.port;
        wait_until("redis-server", Duration::from_secs(10), || ping(port));
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The data directory (holds the AOF).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (reading its AOF).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs one command over RESP and returns the raw reply line(s), for tests that ask
    /// the server directly (e.g. `CLUSTER KEYSLOT`, `CONFIG GET`).
    pub fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
            .expect("connect to redis-server");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).expect("send");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        if let Some(len) = line.strip_prefix('$') {
            let len: i64 = len.trim().parse().unwrap_or(-1);
            if len >= 0 {
                let mut value = String::new();
                reader.read_line(&mut value).expect("bulk");
                return value.trim_end().to_owned();
            }
        }
        line.trim_end().to_owned()
    }
}

/// A local Redis Cluster of three primaries (no replicas), each a [`RedisServer`] in
/// cluster mode in its own temporary directory, with the slots spread by
/// `redis-cli --cluster create`. Ready once every node reports `cluster_state:ok`;
/// killed when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the three nodes and forms the cluster.
    ///
    /// # Panics
    /// When `redis-server` or `redis-cli` is missing, or the cluster does not form.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let mut node = RedisServer {
                    child: None,
                    port: cluster_port(),
                    dir: tempfile::tempdir().expect("temporary directory for redis-server"),
                    extra: ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
                        .map(str::to_owned)
                        .to_vec(),
                };
                node.spawn();
                node
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}); it comes with redis-server"));
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes };
        wait_until("redis cluster", Duration::from_secs(30), || {
            cluster.nodes.iter().all(|node| {
                node.command(&["CLUSTER", "INFO"])
                    .starts_with("cluster_state:ok")
            })
        });
        cluster
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The URL of node `index` (0, 1 or 2): any node leads a cluster client to the rest.
    pub fn url(&self, index: usize) -> String {
        self.nodes[index].url()
    }
}

/// A free loopback port whose cluster bus port (port + 10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55_000 && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).is_ok() && reply.starts_with("+PONG")
}

/// The tokio runtime the server's benchmarks drive their work from: two worker threads,
/// as many as the machine the figures are taken on has cores.
///
/// # Panics
/// When the runtime cannot be built.
pub fn bench_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_server_starts_answers_and_keeps_data_across_a_kill() {
        let mut redis = RedisServer::start();
        assert_eq!(redis.command(&["SET", "k", "v"]), "+OK");
        redis.restart();
        assert_eq!(redis.command(&["GET", "k"]), "v", "the AOF kept the write");
    }
}
