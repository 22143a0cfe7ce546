//! Project automation, run as `cargo xtask <task>`.
//!
//! - `web`: builds `reverb-wasm` for `wasm32-unknown-unknown` (release), checks that the
//!   module imports nothing from `env` (proof the core stayed pure: no libc, no clock, no
//!   host function slipped in), and runs wasm-bindgen — linked in as a library of the same
//!   version as the crate, so nothing is installed — into `web/pkg/`.
//! - `playground [--port N] [--live [-- SERVE_ARGS…]]`: `web`, then serves `web/` on
//!   `http://127.0.0.1:N` (8080 by default) until interrupted. With `--live`, it also
//!   builds `reverb` and starts `reverb serve -l ws://127.0.0.1:PORT SERVE_ARGS…` on a free
//!   port, with `--admin 127.0.0.1:PORT` on another (unless the flags name one), waits
//!   until it listens, answers the page's `/live.json` with its address, passes the
//!   admin endpoint's `/metrics` on under the page's origin (a page may not read another
//!   origin's answer) for the server's own counters, and prints the page's live-mode
//!   address. The server writes to our terminal; Ctrl-C
//!   reaches both, and the server shuts down gracefully, printing its summary.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

mod imports;

const USAGE: &str = "usage: cargo xtask web
       cargo xtask playground [--port N] [--live [-- SERVE_ARGS...]]   (default port 8080)";

/// The playground's default port: the customary one for a local static server.
const DEFAULT_PORT: u16 = 8080;

/// How long `--live` waits for `reverb serve` to listen. It binds within milliseconds of
/// starting; one that has not within this much is stuck, not slow.
const LISTEN_WAIT: Duration = Duration::from_secs(30);

/// How long the page's `/metrics` waits for the live server's admin endpoint.
const ADMIN_WAIT: Duration = Duration::from_secs(2);

/// How often `--live` checks whether the server listens yet.
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// What `cargo xtask playground` was asked for.
#[derive(Debug, PartialEq, Eq)]
struct Playground {
    port: u16,
    /// Start a real `reverb serve` on a WebSocket listener too.
    live: bool,
    /// Flags for `reverb serve` after `--` (`--delay 200ms`, `--prefix '> '`).
    serve_args: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("web") if args.len() == 1 => build_web().map(|_| ()),
        Some("playground") => parse_playground(&args[1..]).and_then(playground),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_playground(args: &[String]) -> Result<Playground, String> {
    let mut parsed = Playground {
        port: DEFAULT_PORT,
        live: false,
        serve_args: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--port" => {
                let n = rest.next().ok_or_else(|| USAGE.to_owned())?;
                parsed.port = n.parse().map_err(|_| format!("bad port {n:?}"))?;
            }
            "--live" => parsed.live = true,
            "--" if parsed.live => {
                parsed.serve_args = rest.cloned().collect();
                break;
            }
            "--" => return Err("flags after -- are for reverb serve: add --live".to_owned()),
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(parsed)
}

fn playground(args: Playground) -> Result<(), String> {
    build_web()?;
    let live = if args.live {
        Some(LiveServer::start(&args.serve_args)?)
    } else {
        None
    };
    serve(args.port, live.as_ref().map(|l| (l.url.as_str(), l.admin)))
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR for the process: prefer it to the path baked in
    // at compile time, which is stale when a shared target dir holds a binary built from
    // another checkout.
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("invariant: xtask/ sits in the workspace root")
        .to_path_buf()
}

fn build_web() -> Result<PathBuf, String> {
    let root = workspace_root();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "reverb-wasm",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the wasm build failed".to_owned());
    }
    let wasm = target_dir(&root).join("wasm32-unknown-unknown/release/reverb_wasm.wasm");
    check_no_env_imports(&wasm)?;

    let out_dir = root.join("web/pkg");
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args([
        "wasm-bindgen".into(),
        wasm.clone().into_os_string(),
        "--target".into(),
        "web".into(),
        "--no-typescript".into(),
        "--out-dir".into(),
        out_dir.clone().into_os_string(),
    ])
    .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    let bound = out_dir.join("reverb_wasm_bg.wasm");
    check_no_env_imports(&bound)?;

    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "xtask: web/pkg/ built: wasm {} KB raw, {} KB after bindgen; no `env` imports",
        size(&wasm) / 1024,
        size(&bound) / 1024
    );
    Ok(out_dir)
}

fn check_no_env_imports(wasm: &Path) -> Result<(), String> {
    let bytes = fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let imports = imports::modules(&bytes).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let env: Vec<_> = imports.iter().filter(|i| i.module == "env").collect();
    if env.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = env.iter().map(|i| i.name.as_str()).collect();
    Err(format!(
        "{} imports from `env`: {} — something in the wasm build reaches for the host \
         (libc, a clock, a C library); reverb-core must stay pure",
        wasm.display(),
        names.join(", ")
    ))
}

// ---- live mode: a real reverb serve beside the page ----------------------------------------

/// A `reverb serve` this xtask started, and the WebSocket address it listens on. Dropped
/// (the page's server failed to start, say), it stops the server: it is ours.
struct LiveServer {
    child: Child,
    url: String,
    /// Its admin endpoint, whose `/metrics` the page reads through us.
    admin: SocketAddr,
}

impl LiveServer {
    /// Builds `reverb`, starts `reverb serve -l ws://127.0.0.1:PORT serve_args…` on a free
    /// port and waits, at most [`LISTEN_WAIT`], until it accepts connections.
    ///
    /// Its output is ours, not piped through us: on Ctrl-C the terminal signals both, this
    /// process ends at once, and a pipe's reader would be gone before the server prints
    /// its summary. So the port is chosen here, and readiness is a connection that
    /// succeeds (the server counts and logs it: one connection, closed by the peer).
    fn start(serve_args: &[String]) -> Result<LiveServer, String> {
        let root = workspace_root();
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "--package", "reverb"])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building reverb failed".to_owned());
        }
        let bin = target_dir(&root)
            .join("debug")
            .join(format!("reverb{}", env::consts::EXE_SUFFIX));
        let addr = free_port()?;
        let url = format!("ws://{addr}");
        let (admin, admin_args) = match admin_flag(serve_args) {
            Some(given) => (given?, Vec::new()),
            None => {
                let admin = free_port()?;
                (admin, vec!["--admin".to_owned(), admin.to_string()])
            }
        };
        let child = Command::new(&bin)
            .args(["serve", "-l", &url])
            .args(&admin_args)
            .args(serve_args)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = LiveServer { child, url, admin };
        server.wait_listening(addr)?;
        Ok(server)
    }

    fn wait_listening(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + LISTEN_WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "reverb serve exited ({status}) before listening on {}",
                    self.url
                ));
            }
            if TcpStream::connect_timeout(&addr, PROBE_EVERY).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "reverb serve did not listen on {} within {} s",
                    self.url,
                    LISTEN_WAIT.as_secs()
                ));
            }
            thread::sleep(PROBE_EVERY);
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // Only the child this xtask started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now: the kernel's pick for a listener bound to port
/// 0, closed again. Another process could take it before the server binds it; then the
/// server exits saying so, and `start` reports that.
fn free_port() -> Result<SocketAddr, String> {
    let probe = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("no free port: {e}"))?;
    probe.local_addr().map_err(|e| e.to_string())
}

/// The address `--admin ADDR` (or `--admin=ADDR`) among the flags for `reverb serve`, if
/// they name one: then it is the endpoint the page's counters come from.
fn admin_flag(serve_args: &[String]) -> Option<Result<SocketAddr, String>> {
    let value = serve_args.iter().enumerate().find_map(|(i, a)| {
        if a == "--admin" {
            Some(serve_args.get(i + 1).map(String::as_str).unwrap_or(""))
        } else {
            a.strip_prefix("--admin=")
        }
    })?;
    Some(
        value
            .parse()
            .map_err(|_| format!("--admin {value:?}: expected HOST:PORT, e.g. 127.0.0.1:9090")),
    )
}

/// `GET /metrics` from the live server's admin endpoint: its status line's code and text,
/// and its body. Blocking, bounded by [`ADMIN_WAIT`]: the endpoint is on loopback and
/// answers at once, and the static server serves one request at a time anyway.
fn fetch_metrics(admin: SocketAddr) -> std::io::Result<(String, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&admin, ADMIN_WAIT)?;
    stream.set_read_timeout(Some(ADMIN_WAIT))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("the admin endpoint's answer has no end of head"))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_once(' '))
        .map(|(_, status)| status.to_owned())
        .unwrap_or_else(|| "502 Bad Gateway".to_owned());
    Ok((status, answer[split + 4..].to_vec()))
}

fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

// ---- a static file server for web/ --------------------------------------------------------

/// Serves `web/`; `live` is the WebSocket address of the server `--live` started, which
/// the page reads from `/live.json` (`{"url": null}` without one), and its admin
/// endpoint, whose `/metrics` is passed on.
fn serve(port: u16, live: Option<(&str, SocketAddr)>) -> Result<(), String> {
    let root = workspace_root().join("web");
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("playground: http://{addr}/  (Ctrl-C to stop)");
    if let Some((url, _)) = live {
        println!("playground: live mode, against reverb serve at {url}: http://{addr}/?live={url}");
    }
    let announce = live_json(live.map(|(url, _)| url));
    let admin = live.map(|(_, admin)| admin);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = respond(stream, &root, &announce, admin) {
                    eprintln!("playground: {e}");
                }
            }
            Err(e) => eprintln!("playground: accept: {e}"),
        }
    }
    Ok(())
}

/// The body of `/live.json`: where the page finds the live server, if one was started.
fn live_json(live: Option<&str>) -> String {
    match live {
        // The address is ours (`ws://127.0.0.1:PORT`): nothing in it needs escaping.
        Some(url) => format!("{{\"url\":\"{url}\",\"metrics\":\"/metrics\"}}\n"),
        None => "{\"url\":null}\n".to_owned(),
    }
}

fn respond(
    mut stream: TcpStream,
    root: &Path,
    live_json: &str,
    admin: Option<SocketAddr>,
) -> std::io::Result<()> {
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Drain the headers; nothing in them matters to a static server.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let file = if path == "/live.json" || path == "/metrics" {
        None
    } else {
        resolve(root, path)
    };
    let (status, mime, body) = match (method, file.and_then(|f| fs::read(&f).ok().map(|b| (f, b))))
    {
        ("GET" | "HEAD", _) if path == "/live.json" => (
            "200 OK".to_owned(),
            "application/json",
            live_json.as_bytes().to_vec(),
        ),
        ("GET" | "HEAD", _) if path == "/metrics" && admin.is_some() => {
            match fetch_metrics(admin.expect("checked in the guard")) {
                Ok((status, body)) => (status, "text/plain; version=0.0.4", body),
                Err(e) => (
                    "502 Bad Gateway".to_owned(),
                    "text/plain",
                    format!("the admin endpoint did not answer: {e}\n").into_bytes(),
                ),
            }
        }
        ("GET" | "HEAD", Some((file, body))) => ("200 OK".to_owned(), mime_type(&file), body),
        ("GET" | "HEAD", None) => (
            "404 Not Found".to_owned(),
            "text/plain",
            b"not found\n".to_vec(),
        ),
        _ => (
            "405 Method Not Allowed".to_owned(),
            "text/plain",
            b"method not allowed\n".to_vec(),
        ),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    println!("{method} {path} {}", status.get(..3).unwrap_or(&status));
    Ok(())
}

/// The file under `root` a URL path names; `None` for anything that would leave it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut file = root.to_path_buf();
    for part in Path::new(url_path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => file.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    Some(file)
}

fn mime_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        // Required for WebAssembly.instantiateStreaming.
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_climb_out_of_the_root_are_refused() {
        let root = Path::new("/srv/web");
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(
            resolve(root, "/js/main.js"),
            Some(PathBuf::from("/srv/web/js/main.js"))
        );
    }

    #[test]
    fn a_module_importing_from_env_is_refused_by_name() {
        let path = env::temp_dir().join(format!("xtask-env-{}.wasm", std::process::id()));
        fs::write(&path, imports::tests::module_with_imports()).unwrap();
        let err = check_no_env_imports(&path).unwrap_err();
        fs::remove_file(&path).unwrap();
        assert!(err.contains("imports from `env`: clock"), "{err}");
    }

    #[test]
    fn the_playground_takes_a_port_live_mode_and_flags_for_reverb_serve() {
        let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_playground(&[]).unwrap(),
            Playground {
                port: 8080,
                live: false,
                serve_args: vec![]
            }
        );
        assert_eq!(
            parse_playground(&args(&[
                "--live", "--port", "9000", "--", "--delay", "200ms"
            ]))
            .unwrap(),
            Playground {
                port: 9000,
                live: true,
                serve_args: args(&["--delay", "200ms"])
            }
        );
        assert!(parse_playground(&args(&["--", "--delay", "1s"]))
            .unwrap_err()
            .contains("add --live"));
        assert!(parse_playground(&args(&["--port", "x"])).is_err());
        assert!(parse_playground(&args(&["--lve"])).is_err());
    }

    #[test]
    fn the_page_learns_the_live_servers_address_from_live_json() {
        assert_eq!(
            live_json(Some("ws://127.0.0.1:5")),
            "{\"url\":\"ws://127.0.0.1:5\",\"metrics\":\"/metrics\"}\n"
        );
        assert_eq!(live_json(None), "{\"url\":null}\n");
    }

    #[test]
    fn an_admin_endpoint_named_in_the_flags_is_the_one_used() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(admin_flag(&args(&["--delay", "1s"])), None);
        let expected = Some(Ok("127.0.0.1:9".parse().unwrap()));
        assert_eq!(admin_flag(&args(&["--admin", "127.0.0.1:9"])), expected);
        assert_eq!(admin_flag(&args(&["-q", "--admin=127.0.0.1:9"])), expected);
        assert!(matches!(admin_flag(&args(&["--admin"])), Some(Err(_))));
    }

    #[test]
    fn metrics_are_fetched_from_the_admin_endpoint_with_its_status() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 512];
            let n = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nup 1\nx 2\n")
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let (status, body) = fetch_metrics(admin).unwrap();
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("200 OK", &b"up 1\nx 2\n"[..])
        );
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /metrics HTTP/1.1\r\n"));
    }

    #[test]
    fn wasm_is_served_as_wasm() {
        assert_eq!(mime_type(Path::new("a/b_bg.wasm")), "application/wasm");
    }
}
