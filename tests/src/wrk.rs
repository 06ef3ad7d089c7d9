//! wrk, the HTTP load generator of the benchmarks: its Lua scripts and one run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Seconds per measurement: `STAGEWISE_BENCH_SECS` (default 10).
pub fn seconds() -> u64 {
    std::env::var("STAGEWISE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// The wrk script: POSTs `body(n)` with the token; `n` counts requests per thread, and the
/// thread id keeps idempotency keys unique across threads.
pub fn post_script(dir: &Path, name: &str, token: &str, body_lua: &str) -> PathBuf {
    let path = dir.join(format!("{name}.lua"));
    let lua = format!(
        r#"
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
function request()
  counter = counter + 1
  local n = counter
  local t = tid or 0
  return wrk.format(nil, "/graphql", nil, {body_lua})
end
"#
    );
    let mut file = std::fs::File::create(&path).expect("script");
    file.write_all(lua.as_bytes()).expect("write script");
    path
}

/// A wrk script that GETs the path the Lua expression `path_lua` builds (from `n`, the
/// request count) with the token.
pub fn get_script(dir: &Path, name: &str, token: &str, path_lua: &str) -> PathBuf {
    let path = dir.join(format!("{name}.lua"));
    let lua = format!(
        r#"
local counter = 0
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
function request()
  counter = counter + 1
  local n = counter
  return wrk.format(nil, {path_lua})
end
"#
    );
    std::fs::write(&path, lua).expect("write script");
    path
}

/// Sends one request the way `script` would (with `n` = 1, `t` = 0) and panics unless it
/// succeeds without GraphQL errors, so that a broken query is never measured as fast.
///
/// # Panics
/// When it fails.
pub fn probe(port: u16, token: &str, script: &Path) {
    let lua = std::fs::read_to_string(script).expect("script");
    let body_lua = lua
        .split_once("wrk.format(nil, \"/graphql\", nil, ")
        .and_then(|(_, rest)| rest.split_once("\nend").map(|(call, _)| call))
        .and_then(|call| call.rsplit_once(')'))
        .map(|(body, _)| body)
        .expect("the script's body");
    // Evaluate the Lua concatenation for n = 1, t = 0: the arithmetic in the bodies is
    // `(n % k + j)` or `(n % k)`, and `t` alone.
    let mut body = String::new();
    for (index, part) in body_lua.split(" .. ").enumerate() {
        let part = part.trim();
        if index % 2 == 0 {
            // A Lua string literal: `\"` is a quote and `\\` a backslash.
            let literal = part.trim_matches('\'');
            body.push_str(&literal.replace("\\\"", "\"").replace("\\\\", "\\"));
        } else if part == "t" {
            body.push('0');
        } else {
            let inner = part.trim_start_matches('(').trim_end_matches(')');
            let mut terms = inner.split(" + ");
            let modulo: u64 = terms
                .next()
                .and_then(|m| m.strip_prefix("n % "))
                .and_then(|k| k.parse().ok())
                .map_or(1, |k: u64| 1 % k);
            let add: u64 = terms.next().map_or(0, |j| j.parse().expect("number"));
            body.push_str(&(modulo + add).to_string());
        }
    }
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("receive");
    assert!(
        answer.starts_with("HTTP/1.1 200") && !answer.contains("\"errors\""),
        "{} fails, so it is not measured:\n{body}\n{answer}",
        script.display()
    );
}

/// What one run of wrk measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Requests per second.
    pub rate: f64,
    /// Responses received.
    pub requests: u64,
    /// The p99 latency, as wrk prints it.
    pub note: String,
}

/// Runs wrk (2 threads, `connections` connections, [`seconds`]) against `url` with
/// `script`.
///
/// # Panics
/// When wrk is missing (the message says how to install it), prints no rate, or counts
/// a response that is not 2xx: a failing request is not measured.
pub fn run(url: &str, script: &Path, connections: usize) -> Measurement {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{}s", seconds()),
        ])
        .args(["--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}); install it with `apt-get install wrk`"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk printed no rate:\n{text}"));
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("wrk printed no request count:\n{text}"));
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .unwrap_or("")
        .trim()
        .to_owned();
    assert!(
        non_2xx.is_empty(),
        "{} answered errors ({non_2xx}); a failing request is not measured",
        script.display()
    );
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map(|l| l.trim().trim_start_matches("99%").trim().to_owned())
        .unwrap_or_default();
    Measurement {
        rate,
        requests,
        note: format!("p99 {p99} {non_2xx}"),
    }
}
