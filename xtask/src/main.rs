//! Project automation, run as `cargo xtask <task>`.
//!
//! - `web`: builds `reverb-wasm` for `wasm32-unknown-unknown` (release), checks that the
//!   module imports nothing from `env` (proof the core stayed pure: no libc, no clock, no
//!   host function slipped in), and runs wasm-bindgen — linked in as a library of the same
//!   version as the crate, so nothing is installed — into `web/pkg/`.
//! - `playground [--port N] [--live [-- SERVE_ARGS…]]`: `web`, then serves `web/` on
//!   `http://127.0.0.1:N` (8080 by default) until interrupted. With `--live`, it also
//!   builds `reverb` and starts `reverb serve -l ws://127.0.0.1:PORT SERVE_ARGS…` on a free
//!   port, waits until it listens, answers the page's `/live.json` with its address, and
//!   prints the page's live-mode address. The server writes to our terminal; Ctrl-C
//!   reaches both, and the server shuts down gracefully, printing its summary.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
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
    serve(args.port, live.as_ref().map(|l| l.url.as_str()))
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
        let child = Command::new(&bin)
            .args(["serve", "-l", &url])
            .args(serve_args)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = LiveServer { child, url };
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

fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

// ---- a static file server for web/ --------------------------------------------------------

/// Serves `web/`; `live` is the WebSocket address of the server `--live` started, which
/// the page reads from `/live.json` (`{"url": null}` without one).
fn serve(port: u16, live: Option<&str>) -> Result<(), String> {
    let root = workspace_root().join("web");
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("playground: http://{addr}/  (Ctrl-C to stop)");
    if let Some(url) = live {
        println!("playground: live mode, against reverb serve at {url}: http://{addr}/?live={url}");
    }
    let announce = live_json(live);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = respond(stream, &root, &announce) {
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
        Some(url) => format!("{{\"url\":\"{url}\"}}\n"),
        None => "{\"url\":null}\n".to_owned(),
    }
}

fn respond(mut stream: TcpStream, root: &Path, live_json: &str) -> std::io::Result<()> {
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
    let file = if path == "/live.json" {
        None
    } else {
        resolve(root, path)
    };
    let (status, mime, body) = match (method, file.and_then(|f| fs::read(&f).ok().map(|b| (f, b))))
    {
        ("GET" | "HEAD", _) if path == "/live.json" => {
            ("200 OK", "application/json", live_json.as_bytes().to_vec())
        }
        ("GET" | "HEAD", Some((file, body))) => ("200 OK", mime_type(&file), body),
        ("GET" | "HEAD", None) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        _ => (
            "405 Method Not Allowed",
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
    println!("{method} {path} {}", &status[..3]);
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
            "{\"url\":\"ws://127.0.0.1:5\"}\n"
        );
        assert_eq!(live_json(None), "{\"url\":null}\n");
    }

    #[test]
    fn wasm_is_served_as_wasm() {
        assert_eq!(mime_type(Path::new("a/b_bg.wasm")), "application/wasm");
    }
}
