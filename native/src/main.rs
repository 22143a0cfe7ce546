//! `reverb`: parse the command line, run the subcommand, turn failures into one line on
//! stderr and an exit code (2: usage or configuration; 1: anything else).

use std::io::Write;
use std::process::ExitCode;

use reverb::bench::BenchArgs;
use reverb::cli::{Command, ServeArgs};
use reverb::config::SettingsError;
use reverb::pid_file::PidFile;
use reverb::server::Server;

fn main() -> ExitCode {
    let parsed = match reverb::config::parse_from(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(SettingsError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("reverb: error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = parsed.cli;
    if let (Command::Serve(args), Some(effective)) = (&cli.command, &parsed.effective) {
        if args.print_config {
            // Checked as a start would check it, binding nothing: a file that prints is
            // one that starts.
            if let Err(e) = args.options() {
                return fail(2, &e);
            }
            print!("{effective}");
            return ExitCode::SUCCESS;
        }
    }
    reverb::logging::init(cli.verbosity(), cli.log_format);
    match &cli.command {
        Command::Serve(args) => serve(args),
        Command::Client(args) => match reverb::client::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, &e),
        },
        Command::Bench(args) => bench(args),
    }
}

/// Exit 0 only if every echoed byte was right and nothing was lost; 1 otherwise.
fn bench(args: &BenchArgs) -> ExitCode {
    let options = match args.options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("reverb: error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match reverb::bench::run(&options) {
        Ok(report) => report,
        Err(e) => return fail(1, &e),
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let options = match args.options() {
        Ok(options) => options,
        Err(e) => return fail(2, &e),
    };
    if let (Some(path), Some(tls)) = (&args.tls_write_cert, &options.tls) {
        if let Err(e) = std::fs::write(path, tls.certificate_pem()) {
            eprintln!(
                "reverb: error: cannot write the certificate to {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
    }
    let server = match Server::bind(options) {
        Ok(server) => server,
        Err(e) => return fail(1, &e),
    };
    let mut pid_file = None;
    let result = server.run(|server| {
        // Once the server runs: after the bind (and any --user, so it is the running
        // user who removes it at the end) and with the signal handlers installed, so a
        // SIGTERM sent as soon as the file appears drains. Before the "listening" lines,
        // so a script that waits for those finds the file too.
        if let Some(path) = &args.pid_file {
            pid_file = Some(PidFile::create(path).map_err(std::io::Error::other)?);
        }
        let options = server.options();
        let threads = match options.threads {
            1 => "1 thread".to_owned(),
            n => format!("{n} threads"),
        };
        let mode = options.config.echo.framing;
        let mut out = std::io::stdout().lock();
        for ((scheme, addr), listener) in server.tcp_addrs().iter().zip(&options.listen) {
            let mode = listener.config.echo.framing;
            let websocket = listener.ws.as_ref().map_or(String::new(), |ws| {
                let path = ws.path.as_deref().unwrap_or("any path");
                format!(
                    "; websocket on {path}, messages up to {} bytes",
                    ws.max_message
                )
            });
            let proxy = if listener.proxy {
                "; a PROXY protocol header (v1 or v2) first"
            } else {
                ""
            };
            let what = match &listener.http {
                Some(http) => format!(
                    "http echo, {} answers, {threads}; heads up to {} bytes, bodies up to {} \
                     bytes",
                    http.format.name(),
                    http.max_header,
                    http.max_body
                ),
                None => format!("{mode} mode, {threads}{websocket}"),
            };
            let _ = writeln!(
                out,
                "reverb: listening on {scheme}://{addr} ({what}{proxy})"
            );
        }
        if let Some(tls) = &options.tls {
            let origin = if tls.is_generated() {
                "self-signed, made at start; its key is in memory only"
            } else {
                "from --tls-cert"
            };
            let _ = writeln!(
                out,
                "reverb: tls certificate ({origin}): SHA-256 {}",
                tls.fingerprint()
            );
        }
        for addr in server.udp_addrs() {
            let _ = writeln!(
                out,
                "reverb: listening on udp://{addr} ({mode} mode, {threads})"
            );
        }
        if let Some(addr) = server.admin_addr() {
            let _ = writeln!(
                out,
                "reverb: admin endpoint on http://{addr} (GET /metrics, GET /healthz)"
            );
        }
        let faults = &options.config.faults;
        if faults.is_active() || faults.datagrams_active() {
            let _ = writeln!(
                out,
                "reverb: injecting faults: {faults} (repeat this run with --seed {})",
                faults.seed
            );
        }
        let _ = out.flush();
        Ok(())
    });
    if let Some(pid_file) = pid_file {
        pid_file.remove();
    }
    match result {
        Ok(summary) => {
            println!("reverb: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e),
    }
}

fn fail(code: u8, error: &dyn std::error::Error) -> ExitCode {
    eprintln!("reverb: error: {error}");
    ExitCode::from(code)
}
