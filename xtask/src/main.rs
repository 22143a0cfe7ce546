//! Project automation, run as `cargo xtask <task>`.
//!
//! - `web`: builds `reverb-wasm` for `wasm32-unknown-unknown` (release), checks that the
//!   module imports nothing from `env` (proof the core stayed pure: no libc, no clock, no
//!   host function slipped in), and runs wasm-bindgen — linked in as a library of the same
//!   version as the crate, so nothing is installed — into `web/pkg/`.
//! - `playground [--port N]`: `web`, then serves `web/` on `http://127.0.0.1:N` (8080 by
//!   default) until interrupted.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};

mod imports;

const USAGE: &str = "usage: cargo xtask web
       cargo xtask playground [--port N]   (default 8080)";

/// The playground's default port: the customary one for a local static server.
const DEFAULT_PORT: u16 = 8080;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("web") if args.len() == 1 => build_web().map(|_| ()),
        Some("playground") => parse_port(&args[1..]).and_then(|port| {
            build_web()?;
            serve(port)
        }),
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

fn parse_port(args: &[String]) -> Result<u16, String> {
    match args {
        [] => Ok(DEFAULT_PORT),
        [flag, n] if flag == "--port" => n.parse().map_err(|_| format!("bad port {n:?}")),
        _ => Err(USAGE.to_owned()),
    }
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
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let wasm = target_dir.join("wasm32-unknown-unknown/release/reverb_wasm.wasm");
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

// ---- a static file server for web/ --------------------------------------------------------

fn serve(port: u16) -> Result<(), String> {
    let root = workspace_root().join("web");
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("playground: http://{addr}/  (Ctrl-C to stop)");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = respond(stream, &root) {
                    eprintln!("playground: {e}");
                }
            }
            Err(e) => eprintln!("playground: accept: {e}"),
        }
    }
    Ok(())
}

fn respond(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
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
    let file = resolve(root, path);
    let (status, mime, body) = match (method, file.and_then(|f| fs::read(&f).ok().map(|b| (f, b))))
    {
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
    fn wasm_is_served_as_wasm() {
        assert_eq!(mime_type(Path::new("a/b_bg.wasm")), "application/wasm");
    }
}
