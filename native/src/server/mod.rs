//! `reverb serve`: bind every socket up front (so a bad address fails before anything
//! runs), then one mio event loop per thread, each with its own `SO_REUSEPORT` listeners,
//! UDP sockets and core [`Registry`](reverb_core::Registry). The main thread only waits
//! for signals and for the workers to finish.
//!
//! Threads share nothing on the hot path: a connection lives and dies on the thread that
//! accepted it. The only shared state is `Control`: a stop flag and the process-wide
//! connection count behind `--max-connections`, touched once per accept and release.

mod admin;
mod exposition;
mod memory;
mod metrics;
mod per_ip;
mod privileges;
mod signals;
mod stack;
mod stats;
mod tcp;
mod udp;
mod warnings;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use reverb_core::{PortPolicy, SourceLimits, ValidConfig};
use reverb_tls::ServerTls;
use socket2::Type;

use crate::listen::Scheme;
use crate::net::{self, Sharing};

pub use per_ip::DEFAULT_MAX_CONNECTIONS_PER_IP;
pub use privileges::{lookup_user, User};
pub use stats::{Summary, WorkerStats};

/// The most connections one process may hold. Keeps every connection's slot index far
/// below the selector tokens reserved for listeners and wakers (see `worker`), and is
/// more descriptors than any system hands one process.
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 24;

/// A TCP listener: where, what it speaks, and its echo.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The protocol its connections speak.
    pub scheme: Scheme,
    /// Where it listens (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Its connections' config: the command line's, with the listener's own echo options.
    pub config: ValidConfig,
    /// For `ws://` and `wss://`: the path it answers on and the largest message.
    pub ws: Option<reverb_ws::WsConfig>,
    /// For `http://` and `https://`: the answer's format and the limits on a request.
    pub http: Option<reverb_http::HttpConfig>,
    /// Whether its connections start with a PROXY protocol header (v1 or v2).
    pub proxy: bool,
}

/// What `reverb serve` runs with, after the command line was checked.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// TCP listeners.
    pub listen: Vec<Listener>,
    /// The certificate `tls://`, `wss://` and `https://` listeners present, when there is
    /// one.
    pub tls: Option<ServerTls>,
    /// UDP addresses to echo on.
    pub udp: Vec<SocketAddr>,
    /// Event loop threads.
    pub threads: usize,
    /// Most bytes per read.
    pub read_size: usize,
    /// The echo semantics and limits.
    pub config: ValidConfig,
    /// Which UDP source ports are answered.
    pub udp_ports: PortPolicy,
    /// Each UDP source address's token buckets.
    pub udp_limits: SourceLimits,
    /// `--max-connections-per-ip`; `None` is the default (network clients only).
    pub max_connections_per_ip: Option<usize>,
    /// The user to become once every socket is bound.
    pub user: Option<User>,
    /// `--admin`: where the metrics and health endpoint listens, if anywhere.
    pub admin: Option<SocketAddr>,
    /// `--shutdown-delay`: how long the listeners keep accepting after the first signal,
    /// while `/healthz` already says 503.
    pub shutdown_delay: Duration,
}

/// An address that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {scheme}://{addr}: {}", explain(.source))]
pub struct BindError {
    /// `tcp` or `udp`.
    pub scheme: &'static str,
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// `--user` could not be become.
    #[error("cannot run as user {user:?}: {source}")]
    User {
        /// The user asked for.
        user: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

fn explain(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".into()
        }
        io::ErrorKind::AddrNotAvailable => "address not available on this machine".into(),
        _ => error.to_string(),
    }
}

/// State every worker and the main thread share: written rarely, never per byte.
#[derive(Debug)]
pub(crate) struct Control {
    /// Set on the first SIGINT/SIGTERM: `/healthz` answers 503 from then on, though the
    /// listeners accept for `--shutdown-delay` more.
    pub(crate) draining: AtomicBool,
    /// Set once the shutdown delay is over (or when a worker fails): stop accepting,
    /// drain.
    pub(crate) stopping: AtomicBool,
    /// Connections open across all workers, for `--max-connections`.
    pub(crate) live: AtomicUsize,
    /// Connections open per client address, for `--max-connections-per-ip`.
    pub(crate) per_ip: per_ip::PerIp,
    /// Workers that have returned.
    pub(crate) finished: AtomicUsize,
}

/// The sockets one worker owns.
#[derive(Debug)]
pub(crate) struct WorkerSockets {
    pub(crate) listeners: Vec<mio::net::TcpListener>,
    pub(crate) udp: Vec<mio::net::UdpSocket>,
    /// The admin endpoint's listener: the first worker's only.
    pub(crate) admin: Option<mio::net::TcpListener>,
}

/// A server with every socket bound, not yet running.
#[derive(Debug)]
pub struct Server {
    options: ServerOptions,
    sockets: Vec<WorkerSockets>,
    tcp_addrs: Vec<(Scheme, SocketAddr)>,
    udp_addrs: Vec<SocketAddr>,
    admin_addr: Option<SocketAddr>,
}

impl Server {
    /// Binds every address once per thread. With port 0 the first socket's real port is
    /// used for the others, so all threads share one port. Then, with `--user`, becomes
    /// that user before anything is read; as root without it, says so.
    pub fn bind(options: ServerOptions) -> Result<Server, StartError> {
        let threads = options.threads.max(1);
        let sharing = if threads > 1 {
            Sharing::Shared
        } else {
            Sharing::Exclusive
        };
        let mut sockets: Vec<WorkerSockets> = (0..threads)
            .map(|_| WorkerSockets {
                listeners: Vec::new(),
                udp: Vec::new(),
                admin: None,
            })
            .collect();
        let mut tcp_addrs = Vec::new();
        for listener in &options.listen {
            let scheme = listener.scheme.name();
            let (real, listeners) =
                bind_per_worker(listener.addr, scheme, Type::STREAM, sharing, threads, |a| {
                    let l = net::tcp_listener(a, sharing)?;
                    Ok((l.local_addr()?, l))
                })?;
            for (worker, listener) in sockets.iter_mut().zip(listeners) {
                worker.listeners.push(listener);
            }
            tcp_addrs.push((listener.scheme, real));
        }
        let mut udp_addrs = Vec::new();
        for &addr in &options.udp {
            let (real, udp) = bind_per_worker(addr, "udp", Type::DGRAM, sharing, threads, |a| {
                let u = net::udp_socket(a, sharing)?;
                Ok((u.local_addr()?, u))
            })?;
            for (worker, socket) in sockets.iter_mut().zip(udp) {
                worker.udp.push(socket);
            }
            udp_addrs.push(real);
        }
        let mut admin_addr = None;
        if let Some(addr) = options.admin {
            // One socket, on the first worker's loop: never shared with another process.
            let fail = |source| BindError {
                scheme: "http",
                addr,
                source,
            };
            let listener = net::tcp_listener(addr, Sharing::Exclusive).map_err(fail)?;
            admin_addr = Some(listener.local_addr().map_err(fail)?);
            sockets[0].admin = Some(listener);
        }
        match &options.user {
            Some(user) => {
                privileges::become_user(user).map_err(|source| StartError::User {
                    user: user.name.clone(),
                    source,
                })?;
                tracing::info!(user = %user.name, uid = user.uid, "privileges dropped");
            }
            None if privileges::running_as_root() => tracing::warn!(
                "running as root: every socket is bound, so --user NAME would drop root now; \
                 a bug reachable from the network would otherwise run with root's rights"
            ),
            None => {}
        }
        Ok(Server {
            options,
            sockets,
            tcp_addrs,
            udp_addrs,
            admin_addr,
        })
    }

    /// Where the admin endpoint listens (`--admin`), with its real port.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The TCP listeners, with their protocols and real ports, in the order given.
    pub fn tcp_addrs(&self) -> &[(Scheme, SocketAddr)] {
        &self.tcp_addrs
    }

    /// The UDP addresses echoed on, with real ports.
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp_addrs
    }

    /// The options the server runs with.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Runs until SIGINT or SIGTERM and a drain, then returns what was served. A second
    /// signal during the drain exits the process at once. `started` is called once every
    /// worker runs and signals are handled (the binary writes its pid file and prints its
    /// "listening" lines there); an error from it stops the workers, and is returned once
    /// they have ended.
    pub fn run(self, started: impl FnOnce(&Server) -> io::Result<()>) -> io::Result<Summary> {
        let control = Arc::new(Control {
            draining: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            per_ip: per_ip::PerIp::new(self.options.max_connections_per_ip),
            finished: AtomicUsize::new(0),
        });
        let mut watch =
            signals::SignalWatch::new(self.options.shutdown_delay, self.options.admin.is_some())?;
        let mut workers = Vec::new();
        let mut wakers = Vec::new();
        let mut handles = Vec::new();
        let Server {
            options,
            sockets,
            tcp_addrs,
            udp_addrs,
            admin_addr,
        } = self;
        let metrics: Vec<Arc<metrics::WorkerMetrics>> = sockets
            .iter()
            .map(|_| {
                Arc::new(metrics::WorkerMetrics::new(
                    tcp_addrs.len(),
                    udp_addrs.len(),
                ))
            })
            .collect();
        for (index, own) in sockets.into_iter().enumerate() {
            let exposition = own.admin.is_some().then(|| {
                exposition::Exposition::new(
                    tcp_addrs
                        .iter()
                        .map(|&(scheme, addr)| exposition::ListenerLabels {
                            url: format!("{scheme}://{addr}"),
                            protocol: scheme.name(),
                        })
                        .collect(),
                    udp_addrs
                        .iter()
                        .map(|addr| exposition::ListenerLabels {
                            url: format!("udp://{addr}"),
                            protocol: "udp",
                        })
                        .collect(),
                    metrics.clone(),
                )
            });
            let worker = worker::Worker::new(
                index,
                own,
                &options,
                Arc::clone(&control),
                Arc::clone(&metrics[index]),
                exposition,
            )?;
            wakers.push(worker.waker());
            workers.push(worker);
        }
        // The admin endpoint answers until every loop has drained: its loop waits for the
        // others, which wake it as they end.
        let admin_waker = admin_addr.and(wakers.first().cloned());
        for worker in workers {
            let control = Arc::clone(&control);
            let mut notify = vec![watch.waker()];
            notify.extend(admin_waker.clone().filter(|_| worker.index() > 0));
            let handle = thread::Builder::new()
                .name(format!("reverb-worker-{}", worker.index()))
                .spawn(move || {
                    // Tell the main thread whichever way the worker ends, panics included.
                    let _notify = worker::ExitNotice::new(control, notify);
                    worker.run()
                })?;
            handles.push(handle);
        }
        let server = Server {
            options,
            sockets: Vec::new(),
            tcp_addrs,
            udp_addrs,
            admin_addr,
        };
        let start = started(&server);
        if start.is_err() {
            signals::stop_all(&control, &wakers);
        }
        watch.wait(&control, &wakers, handles.len())?;
        let mut summary = Summary::default();
        for handle in handles {
            match handle.join() {
                Ok(Ok(stats)) => summary.add(&stats),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("an event loop thread panicked")),
            }
        }
        start?;
        summary.signal = watch.signal_name();
        Ok(summary)
    }
}

/// Binds one socket per worker on `addr`: the first picks the real port (for port 0), the
/// others join it. With `Shared`, an ordinary bind first refuses a port someone holds.
fn bind_per_worker<S>(
    addr: SocketAddr,
    scheme: &'static str,
    ty: Type,
    sharing: Sharing,
    threads: usize,
    mut bind: impl FnMut(SocketAddr) -> io::Result<(SocketAddr, S)>,
) -> Result<(SocketAddr, Vec<S>), BindError> {
    let fail = |source| BindError {
        scheme,
        addr,
        source,
    };
    if sharing == Sharing::Shared {
        net::check_free(addr, ty).map_err(fail)?;
    }
    let mut real = addr;
    let mut sockets = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (local, socket) = bind(real).map_err(fail)?;
        real = local;
        sockets.push(socket);
    }
    Ok((real, sockets))
}
