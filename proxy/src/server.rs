//! The listener: accepts downstream connections under a cap, starts the
//! feed and account tasks on demand, and shuts everything down in order.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tickwire_alpaca::Feed;
use tickwire_fanout::ClientId;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::account::{AccountCommand, AccountTask};
use crate::feed::{FeedCommand, FeedTask};
use crate::inbox::Inbox;
use crate::status::{ProxyStatus, StatusBoard};
use crate::{ProxyConfig, downstream};

/// Commands queued for one feed or the account task before senders wait.
const TASK_QUEUE_COMMANDS: usize = 1024;

/// First pause after a failed accept; doubled per failure up to the max.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the connection, feed and account tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ProxyConfig,
    pub(crate) status: StatusBoard,
    feeds: Mutex<HashMap<Feed, mpsc::Sender<FeedCommand>>>,
    account: Mutex<Option<mpsc::Sender<AccountCommand>>>,
    next_client: AtomicU64,
    /// Feed and account tasks, awaited at shutdown.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// A fresh client number.
    pub(crate) fn next_client(&self) -> ClientId {
        ClientId(self.next_client.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// The command queue of a feed's task, started on first use.
    pub(crate) fn feed(self: &Arc<Self>, feed: Feed) -> mpsc::Sender<FeedCommand> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = feeds.get(&feed).filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, commands) = mpsc::channel(TASK_QUEUE_COMMANDS);
        let task = FeedTask::new(feed, Arc::clone(self));
        let handle = tokio::spawn(task.run(Inbox::new(commands, self.shutdown.clone())));
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
        feeds.insert(feed, sender.clone());
        sender
    }

    /// The command queue of the account task, started on first use.
    pub(crate) fn account(self: &Arc<Self>) -> mpsc::Sender<AccountCommand> {
        let mut account = self.account.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = account.as_ref().filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, commands) = mpsc::channel(TASK_QUEUE_COMMANDS);
        let task = AccountTask::new(Arc::clone(self));
        let handle = tokio::spawn(task.run(Inbox::new(commands, self.shutdown.clone())));
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
        *account = Some(sender.clone());
        sender
    }
}

/// A running proxy: one upstream connection per feed and per account,
/// shared by every downstream client.
///
/// ```
/// use tickwire_core::Credentials;
/// use tickwire_proxy::{Proxy, ProxyConfig, Upstream};
/// use tickwire_ws::{Channel, Feed, MarketDataStream, SubscriptionOutcome};
/// # use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let exchange = ExchangeConfig::new(1).with_account(Account::new("PKTEST", "secret"));
/// # let server = LoopbackServer::start(LoopbackConfig::new(exchange)).await?;
/// # let upstream = format!("ws://{}", server.local_addr());
/// // `upstream` is e.g. `tickwire serve`'s ws://127.0.0.1:PORT.
/// let config = ProxyConfig::new(
///     Upstream::base(&upstream),
///     Credentials::new("PKTEST", "secret"),
///     vec![Credentials::new("strategy", "local-secret")],
/// );
/// let proxy = Proxy::start(config).await?;
///
/// // Any Alpaca client works; here tickwire's own.
/// let client = MarketDataStream::builder(Feed::Custom(proxy.url("/v2/iex")))
///     .key_pair("strategy", "local-secret")
///     .build()?;
/// let verdict = client.subscribe(Channel::Quotes, ["AAPL"]).await?;
/// assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
/// client.shutdown().await?;
/// proxy.shutdown().await;
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
///
/// Dropping it without [`shutdown`](Self::shutdown) leaves its tasks
/// running until the runtime ends.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Binds the listener and starts serving. Nothing connects upstream
    /// until a client subscribes (market data) or listens (account).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: ProxyConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(config.limits.connections_max.max(1)));
        let shared = Arc::new(Shared {
            config,
            status: StatusBoard::default(),
            feeds: Mutex::new(HashMap::new()),
            account: Mutex::new(None),
            next_client: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
            shutdown: stopped,
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared), permits));
        tracing::info!(%addr, "proxy listening");
        Ok(Self {
            addr,
            shared,
            stop,
            acceptor,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `ws://` URL of a path, e.g. `url("/v2/iex")`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Clients, symbols and upstream states now.
    pub fn status(&self) -> ProxyStatus {
        self.shared.status.snapshot()
    }

    /// Stops accepting, closes every downstream connection (1001) and every
    /// upstream stream, and waits for the tasks to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.acceptor.await {
            tracing::warn!(%error, "proxy acceptor ended abnormally");
        }
        let tasks = std::mem::take(
            &mut *self
                .shared
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!(addr = %self.addr, "proxy stopped");
    }
}

/// Accepts connections while a permit is free; each connection holds its
/// permit until it ends. Accept errors back off instead of spinning.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, permits: Arc<Semaphore>) {
    let mut stop = shared.shutdown.clone();
    let mut connections = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_FIRST;
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = ACCEPT_BACKOFF_FIRST;
                    let _ = stream.set_nodelay(true);
                    if let Some(bytes) = shared.config.limits.socket_send_buffer_bytes {
                        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(bytes);
                    }
                    connections.spawn(downstream::serve(stream, peer, Arc::clone(&shared), permit));
                }
                Err(error) => {
                    tracing::warn!(%error, pause_ms = backoff.as_millis() as u64, "accept failed; pausing");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            },
            () = stopped(&mut stop) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Resolves once shutdown was asked for (or the proxy is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
