//! A minimal SMTP server on loopback for tests: it accepts EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP and QUIT in plain text on a free port, answers every command with success,
//! and keeps each message's envelope and raw content. No TLS, no authentication: it is
//! only ever bound to 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, lines joined with CRLF.
    pub data: String,
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Received>>,
    arrived: Condvar,
}

/// A running SMTP sink (a cheap handle: clones share its inbox). It serves until the
/// process ends (its threads are detached).
#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    inbox: Arc<Inbox>,
}

impl SmtpSink {
    /// Binds a free loopback port and starts accepting connections.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        let inbox = Arc::new(Inbox::default());
        let shared = Arc::clone(&inbox);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let inbox = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &inbox);
                });
            }
        });
        Self { port, inbox }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.inbox
            .messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits without blocking the async runtime until at least `count` messages arrived,
    /// at most `limit`: in a test whose server runs on the same runtime (a receipt sent
    /// from a spawned task), the blocking [`SmtpSink::wait_for`] would stop the very task
    /// it waits for.
    ///
    /// # Panics
    /// When they do not arrive in time.
    pub async fn arrived(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{count} message(s) expected, {} arrived",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `count` messages arrived, at most `limit`, blocking the
    /// thread (for synchronous callers; async tests use [`SmtpSink::arrived`]).
    ///
    /// # Panics
    /// When they do not arrive in time.
    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        let mut messages = self
            .inbox
            .messages
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while messages.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{count} message(s) expected, {} arrived",
                messages.len()
            );
            messages = self
                .inbox
                .arrived
                .wait_timeout(messages, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        messages.clone()
    }
}

fn serve(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 127.0.0.1 test SMTP sink\r\n")?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let argument = |prefix: &str| {
            line.trim_end()[prefix.len()..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        };
        if command.starts_with("EHLO") {
            writer.write_all(b"250-127.0.0.1\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if command.starts_with("HELO") || command == "NOOP" {
            writer.write_all(b"250 ok\r\n")?;
        } else if command.starts_with("MAIL FROM:") {
            from = argument("MAIL FROM:")
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches('>')
                .to_owned();
            to.clear();
            writer.write_all(b"250 ok\r\n")?;
        } else if command.starts_with("RCPT TO:") {
            to.push(argument("RCPT TO:"));
            writer.write_all(b"250 ok\r\n")?;
        } else if command == "RSET" {
            from.clear();
            to.clear();
            writer.write_all(b"250 ok\r\n")?;
        } else if command == "DATA" {
            writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut lines = Vec::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let content = line.trim_end_matches(['\r', '\n']);
                if content == "." {
                    break;
                }
                lines.push(content.strip_prefix('.').unwrap_or(content).to_owned());
            }
            let received = Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data: lines.join("\r\n"),
            };
            inbox
                .messages
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(received);
            inbox.arrived.notify_all();
            writer.write_all(b"250 queued\r\n")?;
        } else if command == "QUIT" {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// Decodes quoted-printable text (soft line breaks and `=XX`); other text passes through.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
