//! A TCP proxy on a free loopback port that a test puts between the server and its
//! redis-server, to break the connection on purpose: [`FaultProxy::cut`] closes every
//! proxied connection at once (new ones are accepted, as after a network blip), and
//! [`FaultProxy::stall`] stops forwarding bytes in both directions, on every connection
//! including new ones, until [`FaultProxy::heal`] (a black hole: nothing is refused,
//! nothing answers).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    /// Bytes wait instead of being forwarded.
    stalled: bool,
    /// Incremented by every cut; a connection accepted under an older cut closes.
    cuts: u64,
}

/// The proxy; it stops (closing every connection) when dropped.
pub struct FaultProxy {
    port: u16,
    state: watch::Sender<State>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:<upstream>`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a loopback port for the proxy");
        let port = listener.local_addr().expect("bound").port();
        let (state, _) = watch::channel(State {
            stalled: false,
            cuts: 0,
        });
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept(
            listener,
            SocketAddr::from((Ipv4Addr::LOCALHOST, upstream)),
            state.clone(),
            Arc::clone(&accepted),
        ));
        Self {
            port,
            state,
            accepted,
            task,
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<proxy port>/`.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Closes every connection proxied so far; later connections are accepted.
    pub fn cut(&self) {
        self.state.send_modify(|state| state.cuts += 1);
    }

    /// Stops forwarding until [`heal`](Self::heal).
    pub fn stall(&self) {
        self.state.send_modify(|state| state.stalled = true);
    }

    /// Forwards again, including what waited.
    pub fn heal(&self) {
        self.state.send_modify(|state| state.stalled = false);
    }

    /// How many connections the proxy has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Every connection task sees the cut and closes.
        self.cut();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    state: watch::Sender<State>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        let state = state.subscribe();
        tokio::spawn(async move {
            // Redis refusing is passed on as a closed connection.
            if let Ok(server) = TcpStream::connect(upstream).await {
                proxy(client, server, state).await;
            }
        });
    }
}

/// Forwards between the two until either side closes or the proxy is cut.
async fn proxy(client: TcpStream, server: TcpStream, mut state: watch::Receiver<State>) {
    let cuts = state.borrow_and_update().cuts;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, state.clone());
    let down = pump(server_read, client_write, state.clone());
    let cut = async {
        let _ = state.wait_for(|now| now.cuts != cuts).await;
    };
    // Whichever ends first, both sockets are dropped (closed) on return.
    tokio::select! {
        () = up => {}
        () = down => {}
        () = cut => {}
    }
}

/// Copies from `from` to `to`, holding each chunk while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<State>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if state.wait_for(|now| !now.stalled).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn echo_server() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        port
    }

    async fn round_trip(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
        stream.write_all(b"ping").await.ok()?;
        let mut reply = [0u8; 4];
        match tokio::time::timeout(wait, stream.read_exact(&mut reply)).await {
            Ok(Ok(_)) => Some(reply.to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn the_proxy_forwards_stalls_heals_and_cuts() {
        let proxy = FaultProxy::start(echo_server().await).await;
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
            .await
            .expect("connect");
        let wait = Duration::from_secs(5);
        assert_eq!(
            round_trip(&mut stream, wait).await.as_deref(),
            Some(&b"ping"[..])
        );

        proxy.stall();
        assert_eq!(
            round_trip(&mut stream, Duration::from_millis(200)).await,
            None,
            "nothing is forwarded while stalled"
        );
        proxy.heal();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.expect("the held bytes");
        assert_eq!(&reply, b"ping");

        proxy.cut();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(wait, stream.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed by the cut");
        let mut again = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
            .await
            .expect("a new connection after the cut");
        assert_eq!(
            round_trip(&mut again, wait).await.as_deref(),
            Some(&b"ping"[..])
        );
        assert_eq!(proxy.accepted(), 2);
    }
}
