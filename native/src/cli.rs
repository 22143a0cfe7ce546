//! The command line: `reverb serve` and `reverb client`, parsed with clap's derive API.
//! Every flag's help is one line that ends with its default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reverb_core::{
    Chunk, Config, ConfigError, EchoConfig, FaultConfig, Framing, PortPolicy, Probability,
    SourceLimits, StreamConfig, ValidConfig,
};
use reverb_http::{Format, HttpConfig, DEFAULT_MAX_BODY, DEFAULT_MAX_HEADER};
use reverb_tls::ServerTls;
use reverb_ws::{WsConfig, DEFAULT_MAX_MESSAGE};

use crate::listen::ListenUrl;
use crate::logging::{LogFormat, Verbosity};
use crate::server::{lookup_user, Listener, ServerOptions, MAX_CONNECTIONS_LIMIT};
use crate::units::{
    parse_bytes, parse_duration, parse_optional_duration, parse_probability, parse_range,
    parse_rate, parse_size, Bytes, MaybeDuration,
};

/// Most event loop threads: far more than cores on any machine this serves from; beyond
/// it a typo (`--threads 10000`) would only cost memory and startup time.
pub const MAX_THREADS: usize = 256;

/// Largest `--read-size`: one buffer of this size per thread; larger reads gain nothing
/// once they exceed the socket buffer.
pub const MAX_READ_SIZE: usize = 16 << 20;

/// A TCP/UDP echo server, and a client for it.
#[derive(Debug, Parser)]
#[command(name = "reverb", version, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// More log output: -v debug, -vv trace (RUST_LOG overrides) [default: info]
    #[arg(short, long, action = clap::ArgAction::Count, global = true, display_order = 900)]
    pub verbose: u8,
    /// Less log output: -q warnings only, -qq errors only
    #[arg(
        short,
        long,
        action = clap::ArgAction::Count,
        global = true,
        conflicts_with = "verbose",
        display_order = 901
    )]
    pub quiet: u8,
    /// Log line format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, display_order = 902)]
    pub log_format: LogFormat,
}

impl Cli {
    /// The log verbosity the flags ask for.
    pub fn verbosity(&self) -> Verbosity {
        Verbosity::from_flags(self.verbose, self.quiet)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve echo over TCP (and UDP with --udp) until SIGINT or SIGTERM
    #[command(
        after_help = "Durations: 500ms, 30s, 2m, 1h. Sizes: 4096, 64KiB, 1MiB (K/M/G are \
                            1024-based, KB/MB/GB 1000-based).\n\
                            Logs go to stderr (RUST_LOG=reverb=debug overrides -v/-q); \
                            the listening lines and the final summary go to stdout.\n\n\
                            Each protocol, with a client no one here wrote:\n  \
                            reverb serve -l tcp://127.0.0.1:7007    \
                            nc 127.0.0.1 7007\n  \
                            reverb serve -l tls://127.0.0.1:7443 --tls-write-cert c.pem\n    \
                            openssl s_client -quiet -CAfile c.pem -servername localhost \
                            -connect 127.0.0.1:7443\n  \
                            reverb serve -l ws://127.0.0.1:7080     \
                            python3 -m websockets ws://127.0.0.1:7080/\n    \
                            (a browser: new WebSocket('ws://127.0.0.1:7080/'))\n  \
                            reverb serve -l wss://127.0.0.1:7444 --tls-write-cert c.pem\n    \
                            SSL_CERT_FILE=c.pem python3 -m websockets wss://localhost:7444/\n  \
                            reverb serve -l http://127.0.0.1:8080   \
                            curl -d hello http://127.0.0.1:8080/path\n  \
                            reverb serve --udp 127.0.0.1:7007       \
                            nc -u 127.0.0.1 7007"
    )]
    Serve(Box<ServeArgs>),
    /// Send each line of stdin to a server and print what comes back
    Client(ClientArgs),
    /// Load an echo server (any, not only reverb) and verify every byte it echoes
    Bench(crate::bench::BenchArgs),
}

/// How input is cut into frames (the core's [`Framing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    // No doc comments on the values: clap would turn `--help` into its long form.
    Raw,
    Line,
    Collect,
}

impl From<Mode> for Framing {
    fn from(mode: Mode) -> Framing {
        match mode {
            Mode::Raw => Framing::Raw,
            Mode::Line => Framing::Line,
            Mode::Collect => Framing::Collect,
        }
    }
}

/// What an HTTP listener answers with (reverb-http's [`Format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HttpFormat {
    Raw,
    Json,
}

impl From<HttpFormat> for Format {
    fn from(format: HttpFormat) -> Format {
        match format {
            HttpFormat::Raw => Format::Raw,
            HttpFormat::Json => Format::Json,
        }
    }
}

/// `reverb serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT, tcp://, tls://, ws://HOST:PORT[/PATH], wss://…, http:// or https://, with
    /// ?mode=raw&prefix=… for this listener's own echo, ?format=json for HTTP, ?proxy=1 for a PROXY header;
    /// repeat for several (port 0 picks a free port)
    #[arg(
        short,
        long = "listen",
        value_name = "URL",
        default_value = "127.0.0.1:7007"
    )]
    pub listen: Vec<ListenUrl>,
    /// UDP address to echo datagrams on; repeat for several [default: none]
    #[arg(long, value_name = "ADDR")]
    pub udp: Vec<SocketAddr>,
    /// raw: every byte as read; line: each line; collect: all lines at the quit word
    #[arg(long, value_enum, default_value_t = Mode::Line)]
    pub mode: Mode,
    /// Bytes before every echoed frame; escapes \n \r \t \0 \\ \xHH [default: none]
    #[arg(long, value_name = "TEXT", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub prefix: Option<Bytes>,
    /// Bytes after every echoed frame, before its line break [default: none]
    #[arg(long, value_name = "TEXT", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub suffix: Option<Bytes>,
    /// A line equal to this closes the connection (line and collect modes)
    #[arg(long, value_name = "WORD", default_value = "quit", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub quit_word: Bytes,
    /// Turn the quit word off (not with --mode collect)
    #[arg(long, conflicts_with = "quit_word")]
    pub no_quit_word: bool,
    /// A line equal to this fails its connection, like a crashing handler [default: off]
    #[arg(long, value_name = "WORD", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub fault_word: Option<Bytes>,
    /// Close after the first echoed frame (same as --max-frames 1)
    #[arg(long, conflicts_with = "max_frames")]
    pub once: bool,
    /// Close after this many echoed frames [default: no limit]
    #[arg(long, value_name = "N")]
    pub max_frames: Option<u64>,
    /// Longest line; a longer one gets an error line and a close
    #[arg(long, value_name = "SIZE", default_value = "16KiB", value_parser = parse_size)]
    pub max_line: usize,
    /// Most bytes collect mode holds before answering with an error
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_collect: usize,
    /// Close a connection with no traffic for this long [default: off]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose started line does not end within this [default: off]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub frame_timeout: Option<Duration>,
    /// Abort a connection that reads none of its pending echo for this long [default: off]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub write_stall_timeout: Option<Duration>,
    /// Reset a closing connection that reads none of its pending echo for this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub flush_timeout: Duration,
    /// After our FIN, wait this long for the client's close ("off": close at once)
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_optional_duration)]
    pub linger: MaybeDuration,
    /// Connections open at once (all threads); more are closed at once and counted
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Connections open at once from one client address; more are closed and counted [default: 1000, loopback clients exempt]
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// Pending echo at which a connection stops reading
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub high_watermark: usize,
    /// Pending echo below which a paused connection reads again
    #[arg(long, value_name = "SIZE", default_value = "16KiB", value_parser = parse_size)]
    pub low_watermark: usize,
    /// Largest UDP reply (prefix + datagram + suffix); larger ones are dropped
    #[arg(long, value_name = "SIZE", default_value = "65507", value_parser = parse_size)]
    pub max_datagram: usize,
    /// UDP datagrams answered per second per source address; more are not answered
    #[arg(long, value_name = "N", default_value_t = reverb_core::DEFAULT_DATAGRAMS_PER_SECOND)]
    pub udp_source_rate: u64,
    /// UDP reply bytes per second per source address
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub udp_source_bandwidth: usize,
    /// How much of those rates a quiet UDP source may use at once
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub udp_source_burst: Duration,
    /// Answer UDP source ports 1-1023 too (never 0, 7, 9, 13, 17, 19, 37) [default: refused]
    #[arg(long)]
    pub udp_allow_low_source_ports: bool,
    /// Allow --prefix/--suffix on a non-loopback --udp address: replies outgrow requests [default: refused]
    #[arg(long)]
    pub allow_udp_amplification: bool,
    /// Bytes per read; 2 shows fragmentation as the tutorials' recv(2) does
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub read_size: usize,
    /// Event loop threads, each with its own listener [default: available cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// On SIGINT/SIGTERM, how long connections may take to flush and close
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// On SIGINT/SIGTERM, keep accepting this long while /healthz says 503, so balancers stop sending first
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// Serve GET /metrics (Prometheus) and GET /healthz over HTTP on this address, e.g. 127.0.0.1:9090 [default: off]
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Certificate chain (PEM) for tls:// and wss:// listeners [default: self-signed, made at start]
    // Paired with --tls-key in `tls`, not by clap's `requires`: clap checks only the
    // command line, and one may come from a flag, the other from a variable or the file.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Write the certificate tls:// and wss:// listeners present to FILE, for clients to trust [default: off]
    #[arg(long, value_name = "FILE")]
    pub tls_write_cert: Option<PathBuf>,
    /// The only path ws:// and wss:// listeners answer on; others get 404 [default: any path]
    #[arg(long, value_name = "PATH")]
    pub ws_path: Option<String>,
    /// Largest WebSocket message; a larger one closes with 1009 [default: 1MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_message: Option<usize>,
    /// What http:// and https:// listeners answer with: the request's bytes, or JSON describing it [default: raw]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub http_format: Option<HttpFormat>,
    /// Largest HTTP request head; a larger one is answered 431 (414 for a request line) [default: 16KiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_header: Option<usize>,
    /// Largest HTTP request body; a larger one is answered 413 [default: 1MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<usize>,
    /// Every TCP listener expects a PROXY protocol header (v1 or v2) first; ?proxy=0 exempts one [default: off]
    #[arg(long)]
    pub proxy_protocol: bool,
    /// Become this user once every socket is bound (needs root) [default: stay who we are]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Write the process id to FILE once serving (signals handled); removed at exit if it still holds it [default: none]
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Read settings from this TOML file: keys are these flags' long names; flags and REVERB_* variables override it [default: none]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check the effective settings (file, variables and flags), print them as a TOML file and exit, binding nothing
    #[arg(long)]
    pub print_config: bool,
    /// Faults injected on purpose, for testing clients.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// `reverb serve`'s fault flags: a hostile network in the echo itself, each off by default.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Faults (each off by default; for testing clients)")]
pub struct FaultArgs {
    /// Hold each echo this long before sending it; order is kept
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Add up to this much more delay, drawn at random for each echo
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub jitter: Option<Duration>,
    /// Pace echo output to this many bytes per second, e.g. 64KiB/s
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub rate: Option<u64>,
    /// Send echo output in pieces of random size in MIN..MAX, each its own write
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_range)]
    pub chunk: Option<(usize, usize)>,
    /// Reset (RST) a connection once this many bytes were echoed
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub reset_after: Option<usize>,
    /// Close (FIN) a connection once this many bytes were echoed
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub close_after: Option<usize>,
    /// Fail a connection at each echoed frame with probability P, as the fault word does
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub fault_chance: Option<Probability>,
    /// UDP: drop each reply with probability P
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub drop: Option<Probability>,
    /// UDP: send each reply twice with probability P
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub duplicate: Option<Probability>,
    /// UDP: hold a reply back until after the next one with probability P
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub reorder: Option<Probability>,
    /// Seed for every random choice; the same seed repeats a run [default: random, printed]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

impl FaultArgs {
    /// The core's fault section. Without `--seed`, a seed is drawn and printed at start so
    /// that the run can be repeated; it matters only when a fault is on.
    pub fn config(&self) -> FaultConfig {
        let mut config = FaultConfig {
            delay: self.delay,
            jitter: self.jitter,
            rate: self.rate,
            chunk: self.chunk.map(|(min, max)| Chunk { min, max }),
            reset_after: self.reset_after.map(|n| n as u64),
            close_after: self.close_after.map(|n| n as u64),
            fault_chance: self.fault_chance,
            drop: self.drop,
            duplicate: self.duplicate,
            reorder: self.reorder,
            seed: 0,
        };
        if config.is_active() || config.datagrams_active() {
            config.seed = self.seed.unwrap_or_else(random_seed);
        }
        config
    }
}

/// A seed nobody chose: the clock's nanoseconds and the process id, mixed.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A command line that cannot run, found before anything is bound.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The core rejected the echo configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A driver setting is out of range.
    #[error("{0}")]
    Driver(String),
}

impl ServeArgs {
    /// The core's config these flags describe, checked.
    pub fn config(&self) -> Result<ValidConfig, ConfigError> {
        self.unchecked_config().validate()
    }

    /// One listener's config: the command line's, with the listener's own echo options.
    fn listener_config(&self, url: &ListenUrl) -> Result<ValidConfig, UsageError> {
        let mut config = self.unchecked_config();
        let own = &url.options;
        let named = |e: &dyn std::fmt::Display| UsageError::Driver(format!("-l {url}: {e}"));
        if let Some(mode) = &own.mode {
            config.echo.framing = mode.parse().map_err(|e| named(&e))?;
        }
        if url.scheme.is_http() {
            // The answer is the request as received: the echo's framing and affixes have
            // nothing to frame or wrap.
            if own.mode.is_some() || own.prefix.is_some() || own.suffix.is_some() {
                return Err(named(
                    &"mode, prefix and suffix are the echo's: an HTTP listener answers each \
                      request with itself (use ?format=raw|json)",
                ));
            }
            config.echo.prefix.clear();
            config.echo.suffix.clear();
        }
        if let Some(prefix) = &own.prefix {
            config.echo.prefix.clone_from(prefix);
        }
        if let Some(suffix) = &own.suffix {
            config.echo.suffix.clone_from(suffix);
        }
        if own.mode.is_some() && config.echo.framing == Framing::Raw && self.fault_word.is_some() {
            return Err(named(
                &"a fault word needs line or collect mode: raw mode does not cut lines",
            ));
        }
        config.validate().map_err(|e| named(&e))
    }

    /// A WebSocket listener's settings: its own path or `--ws-path`, and `--max-message`;
    /// `None` for a listener that does not speak WebSocket. Its prefix and suffix go into
    /// text messages, so they must be UTF-8.
    fn listener_ws(
        &self,
        url: &ListenUrl,
        config: &ValidConfig,
    ) -> Result<Option<WsConfig>, UsageError> {
        if !url.scheme.is_ws() {
            return Ok(None);
        }
        let named = |e: &dyn std::fmt::Display| UsageError::Driver(format!("-l {url}: {e}"));
        for (flag, affix) in [
            ("prefix", &config.echo.prefix),
            ("suffix", &config.echo.suffix),
        ] {
            if std::str::from_utf8(affix).is_err() {
                return Err(named(&format_args!(
                    "the {flag} must be UTF-8 over WebSocket: it goes into text messages"
                )));
            }
        }
        let path = url.options.path.as_deref().or(self.ws_path.as_deref());
        let ws = WsConfig {
            path: path.map(Into::into),
            max_message: self.max_message.map_or(DEFAULT_MAX_MESSAGE, |n| n as u64),
        };
        ws.check().map_err(|e| named(&e))?;
        Ok(Some(ws))
    }

    /// An HTTP listener's settings: its own `?format=` or `--http-format`, `--max-header`
    /// and `--max-body`; `None` for a listener that does not speak HTTP.
    fn listener_http(&self, url: &ListenUrl) -> Result<Option<HttpConfig>, UsageError> {
        if !url.scheme.is_http() {
            return Ok(None);
        }
        let named = |e: &dyn std::fmt::Display| UsageError::Driver(format!("-l {url}: {e}"));
        let format = match &url.options.format {
            Some(own) => own.parse().map_err(|e| named(&e))?,
            None => self.http_format.map_or(Format::Raw, Format::from),
        };
        let http = HttpConfig {
            format,
            max_header: self.max_header.unwrap_or(DEFAULT_MAX_HEADER),
            max_body: self.max_body.unwrap_or(DEFAULT_MAX_BODY),
        };
        http.check().map_err(|e| named(&e))?;
        Ok(Some(http))
    }

    /// The certificate tls://, wss:// and https:// listeners present: from --tls-cert and
    /// --tls-key, or made now for `localhost` and the listeners' addresses. `None` without
    /// one.
    fn tls(&self) -> Result<Option<ServerTls>, UsageError> {
        // Checked whatever the listeners: either alone is a mistake, even where neither
        // would be used.
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(UsageError::Driver(
                    "--tls-cert and --tls-key go together: a certificate needs its key".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(UsageError::Driver(
                    "--tls-key and --tls-cert go together: a key needs its certificate".into(),
                ))
            }
            _ => {}
        }
        let tls_listeners: Vec<&ListenUrl> =
            self.listen.iter().filter(|l| l.scheme.is_tls()).collect();
        if tls_listeners.is_empty() {
            if self.tls_cert.is_some() || self.tls_write_cert.is_some() {
                return Err(UsageError::Driver(
                    "--tls-cert, --tls-key and --tls-write-cert need a tls:// listener, or a \
                     wss:// or https:// one (-l tls://…)"
                        .into(),
                ));
            }
            return Ok(None);
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => ServerTls::from_pem_files(cert, key),
            _ => {
                let mut names = vec!["localhost".to_owned()];
                for listener in tls_listeners {
                    let ip = listener.addr.ip();
                    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
                        names.push(ip.to_string());
                    }
                }
                ServerTls::self_signed(&names)
            }
        };
        tls.map(Some).map_err(|e| UsageError::Driver(e.to_string()))
    }

    fn unchecked_config(&self) -> Config {
        let bytes = |b: &Option<Bytes>| b.as_ref().map(|b| b.0.clone());
        let quit_word = (!self.no_quit_word).then(|| self.quit_word.0.clone());
        Config {
            stream: StreamConfig {
                idle_timeout: self.idle_timeout,
                write_stall_timeout: self.write_stall_timeout,
                flush_timeout: self.flush_timeout,
                linger: self.linger.0,
                shutdown_timeout: self.shutdown_timeout,
                max_connections: self.max_connections,
            },
            echo: EchoConfig {
                framing: self.mode.into(),
                prefix: bytes(&self.prefix).unwrap_or_default(),
                suffix: bytes(&self.suffix).unwrap_or_default(),
                quit_word,
                fault_word: bytes(&self.fault_word),
                max_frames: if self.once { Some(1) } else { self.max_frames },
                max_line: self.max_line,
                high_watermark: self.high_watermark,
                low_watermark: self.low_watermark,
                max_collect: self.max_collect,
                frame_timeout: self.frame_timeout,
                max_datagram: self.max_datagram,
                record_frames: false,
            },
            faults: self.faults.config(),
        }
    }

    /// Everything the server needs, checked: the core's config and the driver's own
    /// settings.
    pub fn options(&self) -> Result<ServerOptions, UsageError> {
        let config = self.config()?;
        if self.mode == Mode::Raw && self.fault_word.is_some() {
            return Err(UsageError::Driver(
                "a fault word needs line or collect mode: raw mode does not cut lines".into(),
            ));
        }
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        if threads == 0 || threads > MAX_THREADS {
            return Err(UsageError::Driver(format!(
                "threads must be between 1 and {MAX_THREADS}"
            )));
        }
        if self.read_size == 0 || self.read_size > MAX_READ_SIZE {
            return Err(UsageError::Driver(format!(
                "read size must be between 1 byte and 16MiB, not {}",
                self.read_size
            )));
        }
        if self.max_connections > MAX_CONNECTIONS_LIMIT {
            return Err(UsageError::Driver(format!(
                "max connections is {}; at most {MAX_CONNECTIONS_LIMIT} are supported",
                self.max_connections
            )));
        }
        if self.max_connections_per_ip == Some(0) {
            return Err(UsageError::Driver(
                "max connections per ip must be at least 1: 0 would refuse every client".into(),
            ));
        }
        self.check_amplification(&config)?;
        let udp_limits = SourceLimits {
            datagrams_per_second: self.udp_source_rate,
            bytes_per_second: self.udp_source_bandwidth as u64,
            burst: self.udp_source_burst,
        };
        udp_limits
            .validate()
            .map_err(|e| UsageError::Driver(e.to_string()))?;
        let user = match &self.user {
            Some(name) => Some(lookup_user(name).map_err(UsageError::Driver)?),
            None => None,
        };
        if !self.listen.iter().any(|l| l.scheme.is_ws())
            && (self.ws_path.is_some() || self.max_message.is_some())
        {
            return Err(UsageError::Driver(
                "--ws-path and --max-message need a ws:// or wss:// listener (-l ws://…)".into(),
            ));
        }
        let http_flags =
            self.http_format.is_some() || self.max_header.is_some() || self.max_body.is_some();
        if http_flags && !self.listen.iter().any(|l| l.scheme.is_http()) {
            return Err(UsageError::Driver(
                "--http-format, --max-header and --max-body need an http:// or https:// \
                 listener (-l http://…)"
                    .into(),
            ));
        }
        let affixes = self.prefix.is_some() || self.suffix.is_some();
        if affixes && self.udp.is_empty() && self.listen.iter().all(|l| l.scheme.is_http()) {
            return Err(UsageError::Driver(
                "--prefix and --suffix wrap the echo's frames: http:// and https:// listeners \
                 answer each request with itself, unwrapped"
                    .into(),
            ));
        }
        let listen = self
            .listen
            .iter()
            .map(|url| {
                let config = self.listener_config(url)?;
                Ok(Listener {
                    scheme: url.scheme,
                    addr: url.addr,
                    ws: self.listener_ws(url, &config)?,
                    http: self.listener_http(url)?,
                    proxy: url.options.proxy.unwrap_or(self.proxy_protocol),
                    config,
                })
            })
            .collect::<Result<_, UsageError>>()?;
        Ok(ServerOptions {
            listen,
            tls: self.tls()?,
            udp: self.udp.clone(),
            threads,
            read_size: self.read_size,
            config,
            udp_ports: if self.udp_allow_low_source_ports {
                PortPolicy::RefuseLoopProne
            } else {
                PortPolicy::RefuseBelow1024
            },
            udp_limits,
            max_connections_per_ip: self.max_connections_per_ip,
            user,
            admin: self.admin,
            shutdown_delay: self.shutdown_delay,
        })
    }

    /// A UDP reply longer than its request makes reverb an amplifier: a forged source
    /// gets more bytes than the forger sent. Off loopback that needs the user's word.
    fn check_amplification(&self, config: &ValidConfig) -> Result<(), UsageError> {
        let grows = !config.echo.prefix.is_empty() || !config.echo.suffix.is_empty();
        if !grows || self.allow_udp_amplification {
            return Ok(());
        }
        match self.udp.iter().find(|addr| !addr.ip().is_loopback()) {
            Some(addr) => Err(UsageError::Driver(format!(
                "udp://{addr} with --prefix/--suffix: every reply would be larger than its \
                 request, so anyone forging a source address could use this server to \
                 amplify a flood; listen on loopback, drop the prefix and suffix, or pass \
                 --allow-udp-amplification"
            ))),
            None => Ok(()),
        }
    }
}

/// `reverb client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Server: HOST:PORT, tcp://, tls://, ws://HOST:PORT[/PATH] or wss://…, e.g. 127.0.0.1:7007 (over WebSocket each line is one text message)
    #[arg(value_name = "URL")]
    pub addr: String,
    /// tls:// and wss://: trust the certificates in this PEM file (the server's --tls-write-cert)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// tls:// and wss://: accept any certificate (a test server's self-signed one) [default: off]
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Give up connecting after this long
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Send a PROXY protocol header (HAProxy's v1 text or v2 binary) first, announcing the connection's real addresses [default: none]
    #[arg(long, value_enum, value_name = "VERSION")]
    pub send_proxy: Option<crate::bench::ProxyVersion>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn serve(args: &[&str]) -> ServeArgs {
        let argv = ["reverb", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(serve) => *serve,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_core() {
        let config = serve(&[]).config().unwrap();
        assert_eq!(*config, *ValidConfig::default());
    }

    #[test]
    fn flags_reach_the_config() {
        let args = serve(&[
            "--mode",
            "raw",
            "--prefix",
            r"> ",
            "--suffix",
            r"\r\n",
            "--once",
            "--idle-timeout",
            "200ms",
            "--linger",
            "off",
            "--high-watermark",
            "8KiB",
            "--low-watermark",
            "1KiB",
        ]);
        let config = args.config().unwrap();
        assert_eq!(config.echo.framing, Framing::Raw);
        assert_eq!(config.echo.prefix, b"> ");
        assert_eq!(config.echo.suffix, b"\r\n");
        assert_eq!(config.echo.max_frames, Some(1));
        assert_eq!(config.stream.idle_timeout, Some(Duration::from_millis(200)));
        assert_eq!(config.stream.linger, None);
        assert_eq!(config.echo.high_watermark, 8192);
    }

    #[test]
    fn affixes_and_words_may_start_with_a_dash() {
        let args = serve(&["--prefix", "- ", "--suffix", "--", "--fault-word", "-x"]);
        let config = args.config().unwrap();
        assert_eq!(config.echo.prefix, b"- ");
        assert_eq!(config.echo.suffix, b"--");
        assert_eq!(config.echo.fault_word.as_deref(), Some(&b"-x"[..]));
    }

    #[test]
    fn bad_combinations_are_refused() {
        let inverted = serve(&["--low-watermark", "64KiB", "--high-watermark", "16KiB"]);
        assert!(matches!(
            inverted.config(),
            Err(ConfigError::Watermarks { .. })
        ));
        let collect = serve(&["--mode", "collect", "--no-quit-word"]);
        assert_eq!(collect.config(), Err(ConfigError::CollectNeedsQuitWord));
        assert!(serve(&["--threads", "0"]).options().is_err());
        let argv = ["reverb", "serve", "--once", "--max-frames", "3"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn a_certificate_or_a_key_alone_is_refused_whatever_the_listeners() {
        let refused = |args: &[&str], needle: &str| {
            let message = serve(args).options().unwrap_err().to_string();
            assert!(message.contains(needle), "{args:?}: {message}");
        };
        for listen in ["127.0.0.1:0", "tls://127.0.0.1:0"] {
            refused(
                &["-l", listen, "--tls-cert", "cert.pem"],
                "a certificate needs its key",
            );
            refused(
                &["-l", listen, "--tls-key", "key.pem"],
                "--tls-key and --tls-cert go together",
            );
        }
        refused(
            &["--tls-cert", "cert.pem", "--tls-key", "key.pem"],
            "need a tls:// listener",
        );
    }

    #[test]
    fn websocket_listeners_get_their_path_and_message_limit() {
        let options = serve(&[
            "-l",
            "ws://127.0.0.1:0/own",
            "-l",
            "wss://127.0.0.1:0",
            "-l",
            "tls://127.0.0.1:0",
            "--ws-path",
            "/shared",
            "--max-message",
            "64KiB",
        ])
        .options()
        .unwrap();
        let ws: Vec<_> = options.listen.iter().map(|l| l.ws.clone()).collect();
        let own = ws[0].as_ref().unwrap();
        assert_eq!(
            (own.path.as_deref(), own.max_message),
            (Some("/own"), 65536)
        );
        assert_eq!(ws[1].as_ref().unwrap().path.as_deref(), Some("/shared"));
        assert!(ws[2].is_none(), "tls:// does not speak WebSocket");
        assert!(
            options.tls.is_some(),
            "wss:// and tls:// share the certificate"
        );
        let defaults = serve(&["-l", "ws://127.0.0.1:0"]).options().unwrap();
        let ws = defaults.listen[0].ws.as_ref().unwrap();
        assert_eq!((ws.path.as_deref(), ws.max_message), (None, 1 << 20));
        assert!(defaults.tls.is_none(), "no certificate for plain ws://");
    }

    #[test]
    fn security_flags_reach_the_options_and_impossible_ones_are_refused() {
        let defaults = serve(&[]).options().unwrap();
        assert_eq!(defaults.udp_ports, PortPolicy::RefuseBelow1024);
        assert_eq!(defaults.udp_limits, SourceLimits::default());
        assert_eq!(defaults.max_connections_per_ip, None);
        let options = serve(&[
            "--udp-source-rate",
            "50",
            "--udp-source-bandwidth",
            "1MiB",
            "--udp-source-burst",
            "200ms",
            "--udp-allow-low-source-ports",
            "--max-connections-per-ip",
            "7",
        ])
        .options()
        .unwrap();
        assert_eq!(options.udp_ports, PortPolicy::RefuseLoopProne);
        assert_eq!(options.udp_limits.datagrams_per_second, 50);
        assert_eq!(options.udp_limits.bytes_per_second, 1 << 20);
        assert_eq!(options.max_connections_per_ip, Some(7));
        let refused = |args: &[&str], needle: &str| {
            let message = serve(args).options().unwrap_err().to_string();
            assert!(message.contains(needle), "{args:?}: {message}");
        };
        refused(&["--udp-source-rate", "0"], "udp source rate");
        refused(
            &["--udp-source-rate", "1", "--udp-source-burst", "10ms"],
            "less than one",
        );
        refused(&["--max-connections-per-ip", "0"], "at least 1");
        refused(
            &["--udp", "0.0.0.0:7", "--suffix", "!"],
            "--allow-udp-amplification",
        );
        refused(&["--user", "no-such-user-reverb"], "no user named");
        // Amplification on loopback, or with the opt-in, is the user's call.
        serve(&["--udp", "127.0.0.1:7", "--suffix", "!"])
            .options()
            .unwrap();
        serve(&[
            "--udp",
            "[::]:7",
            "--suffix",
            "!",
            "--allow-udp-amplification",
        ])
        .options()
        .unwrap();
    }
}
