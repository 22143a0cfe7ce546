//! Configuring `reverb serve` without flags: `REVERB_*` variables, a TOML file
//! (`--config`, `REVERB_CONFIG`), their precedence (flags over variables over the file),
//! `--print-config` and its round trip, and `--pid-file`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{binary, is_timeout, run, Server, LIMIT};

/// A directory of this test's own, removed with it.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("reverb-e2e-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `reverb serve ARGS` with `env` added to a clean environment (no `REVERB_*` from the
/// developer's shell), waiting for `listeners` "listening on" lines.
fn serve_with_env(env: &[(&str, &str)], args: &[&str], listeners: usize) -> Server {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Server::spawn(command, listeners)
        .unwrap_or_else(|(status, err)| panic!("server did not start ({status:?}): {err}"))
}

/// `reverb ARGS` to completion with `env` in a clean environment.
fn run_with_env(env: &[(&str, &str)], args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run reverb");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (output.status, text(output.stdout), text(output.stderr))
}

#[test]
fn variables_set_flags_a_list_is_comma_separated_and_a_flag_wins() {
    let server = serve_with_env(
        &[
            ("REVERB_LISTEN", "127.0.0.1:0,tcp://127.0.0.1:0"),
            ("REVERB_MODE", "line"),
            ("REVERB_PREFIX", "env "),
            ("REVERB_SUFFIX", "!"),
        ],
        &["--prefix", "flag "],
        2,
    );
    assert_eq!(server.tcp.len(), 2, "both listeners of REVERB_LISTEN");
    for addr in &server.tcp {
        crate::support::Client::connect(*addr).roundtrip(b"hi\n", b"flag hi!\n");
    }
}

#[test]
fn a_file_is_overridden_by_variables_which_are_overridden_by_flags() {
    let dir = Dir::new("precedence");
    let file = dir.write(
        "reverb.toml",
        "listen = [\"127.0.0.1:0\"]\nprefix = \"file \"\nsuffix = \"?\"\nmax-line = 8\n\
         quit-word = \"bye\"\n",
    );
    let file = file.to_str().unwrap();
    // REVERB_CONFIG names the file; the variable's suffix beats the file's, the flag's
    // prefix beats both; the file's max-line and quit word stand.
    let server = serve_with_env(
        &[
            ("REVERB_CONFIG", file),
            ("REVERB_SUFFIX", "."),
            ("REVERB_PREFIX", "env "),
        ],
        &["--prefix", "flag "],
        1,
    );
    let mut client = server.connect();
    client.roundtrip(b"hi\n", b"flag hi.\n");
    client.send(b"0123456789\n");
    let rest = client.read_until_closed();
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "error: line exceeds 8 bytes\n",
        "the file's max-line"
    );
    let mut client = server.connect();
    client.send(b"bye\n");
    assert!(
        client.read_until_closed().is_empty(),
        "the file's quit word"
    );
}

/// How many lines the first connection to `server` has echoed when the server closes it,
/// sent one at a time (so nothing is left unread when it closes), five at most.
fn frames_before_close(server: &Server) -> usize {
    let mut client = server.connect();
    for n in 0..5 {
        let line = format!("{n}\n");
        if client.stream.write_all(line.as_bytes()).is_err() {
            return n;
        }
        let mut echo = [0; 2];
        match client.stream.read_exact(&mut echo) {
            Ok(()) => assert_eq!(echo, line.as_bytes()),
            Err(e) if is_timeout(&e) => panic!("neither an echo nor a close within {LIMIT:?}"),
            Err(_) => return n,
        }
    }
    5
}

#[test]
fn a_flag_beats_a_variable_it_conflicts_with_on_or_off_and_a_variable_beats_the_file() {
    let dir = Dir::new("conflicts");
    let frames_3 = dir.write("frames.toml", "max-frames = 3\n");
    let once = dir.write("once.toml", "once = true\n");
    let listen = ("REVERB_LISTEN", "127.0.0.1:0");
    for (name, env, args, frames) in [
        (
            "--max-frames over REVERB_ONCE=true",
            vec![listen, ("REVERB_ONCE", "true")],
            vec!["--max-frames", "3"],
            3,
        ),
        (
            "--max-frames beside REVERB_ONCE=false",
            vec![listen, ("REVERB_ONCE", "false")],
            vec!["--max-frames", "3"],
            3,
        ),
        (
            "--once over REVERB_MAX_FRAMES",
            vec![listen, ("REVERB_MAX_FRAMES", "3")],
            vec!["--once"],
            1,
        ),
        (
            "REVERB_ONCE over the file's max-frames",
            vec![listen, ("REVERB_ONCE", "true")],
            vec!["--config", frames_3.to_str().unwrap()],
            1,
        ),
        (
            "REVERB_MAX_FRAMES over the file's once",
            vec![listen, ("REVERB_MAX_FRAMES", "2")],
            vec!["--config", once.to_str().unwrap()],
            2,
        ),
    ] {
        let server = serve_with_env(&env, &args, 1);
        assert_eq!(frames_before_close(&server), frames, "{name}");
    }
    // Two variables that conflict are refused as the two flags would be, unless one is off.
    let (status, _, err) = run_with_env(
        &[("REVERB_ONCE", "true"), ("REVERB_MAX_FRAMES", "3")],
        &["serve", "--print-config"],
    );
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        err.trim(),
        "reverb: error: REVERB_ONCE: cannot be set with REVERB_MAX_FRAMES, as --once and \
         --max-frames cannot be given together"
    );
    let (status, printed, err) = run_with_env(
        &[("REVERB_ONCE", "false"), ("REVERB_MAX_FRAMES", "3")],
        &["serve", "--print-config"],
    );
    assert!(status.success(), "{err}");
    assert!(printed.contains("\nmax-frames = 3\n"), "{printed}");
}

#[test]
fn variables_configure_serve_only_and_an_empty_one_is_unset() {
    let bad = [("REVERB_UDP", "nowhere"), ("REVERB_LISTEN", "nowhere")];
    for command in ["bench", "client"] {
        let (status, out, err) = run_with_env(&bad, &[command, "--help"]);
        assert!(status.success(), "reverb {command}: {err}");
        assert!(out.contains("Usage: reverb"), "{out}");
    }
    let (status, printed, err) = run_with_env(
        &[("REVERB_LISTEN", ""), ("REVERB_MODE", "")],
        &["serve", "--print-config"],
    );
    assert!(status.success(), "{err}");
    assert!(
        printed.contains("\nlisten = [\"127.0.0.1:7007\"]\n"),
        "{printed}"
    );
    assert!(printed.contains("\nmode = \"line\"\n"), "{printed}");
}

#[test]
fn print_config_binds_nothing_and_reads_back_to_the_same_configuration() {
    let dir = Dir::new("print");
    // A port that is taken: --print-config must not try to bind it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", taken.local_addr().unwrap());
    let file = dir.write(
        "reverb.toml",
        "mode = \"raw\"\nudp = [\"127.0.0.1:0\"]\nonce = true\nmax-connections = 50\n\
         linger = \"off\"\nlog-format = \"json\"\n",
    );
    let (status, printed, err) = run_with_env(
        &[
            ("REVERB_CONFIG", file.to_str().unwrap()),
            ("REVERB_IDLE_TIMEOUT", "30s"),
        ],
        &["serve", "-l", &addr, "--suffix", "!", "--print-config"],
    );
    assert!(status.success(), "{err}");
    for line in [
        format!("listen = [\"{addr}\"]"),
        "udp = [\"127.0.0.1:0\"]".into(),
        "mode = \"raw\"".into(),
        "suffix = \"!\"".into(),
        "once = true".into(),
        "max-connections = 50".into(),
        "idle-timeout = \"30s\"".into(),
        "linger = \"off\"".into(),
        "log-format = \"json\"".into(),
        "# prefix =".into(),
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "no {line:?} in:\n{printed}"
        );
    }
    assert!(
        !printed.contains("config ="),
        "where the settings came from is no setting"
    );
    // Fed back alone, with nothing in the environment, it is the same configuration.
    let again = dir.write("printed.toml", &printed);
    let (status, reprinted, err) = run_with_env(
        &[],
        &[
            "serve",
            "--config",
            again.to_str().unwrap(),
            "--print-config",
        ],
    );
    assert!(status.success(), "{err}");
    assert_eq!(printed, reprinted);
    // And it serves with it: the same file on a free port echoes raw with the suffix.
    let served = printed.replace(&addr, "127.0.0.1:0");
    let served = dir.write("served.toml", &served);
    let server = serve_with_env(&[], &["--config", served.to_str().unwrap()], 2);
    let mut client = server.connect();
    client.send(b"abc");
    assert_eq!(client.read_until_closed(), b"abc!", "raw, the suffix, once");
}

#[test]
fn a_wrong_file_or_variable_is_named_with_its_key_and_exits_2() {
    let dir = Dir::new("wrong");
    let file = dir.write("reverb.toml", "max_line = \"1KiB\"\n");
    let path = file.display().to_string();
    let (status, _, err) = run(&["serve", "--config", &path], b"");
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        err.trim(),
        format!("reverb: error: {path}: unknown key 'max_line' (did you mean 'max-line'?)")
    );
    let file = dir.write("reverb.toml", "max-line = \"lots\"\n");
    let (status, _, err) = run(&["serve", "--config", &path], b"");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains(&format!(
            "{path}: max-line: invalid value 'lots' for '--max-line <SIZE>'"
        )),
        "{err}"
    );
    let _ = file;
    // --print-config checks what it prints as a start would.
    let (status, out, err) = run(
        &[
            "serve",
            "--low-watermark",
            "64KiB",
            "--high-watermark",
            "16KiB",
            "--print-config",
        ],
        b"",
    );
    assert_eq!(status.code(), Some(2));
    assert!(out.is_empty() && err.contains("watermark"), "{out}{err}");
    let (status, _, err) = run_with_env(&[("REVERB_MODE", "fast")], &["serve"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("REVERB_MODE: invalid value 'fast' for '--mode <MODE>'"),
        "{err}"
    );
    let (status, _, err) = run_with_env(&[("REVERB_LISTEN", "127.0.0.1:0,nowhere")], &["serve"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("REVERB_LISTEN: invalid value 'nowhere'"),
        "{err}"
    );
}

#[test]
fn help_names_each_flags_variable_before_its_default() {
    let (status, out, _) = run(&["serve", "--help"], b"");
    assert!(status.success());
    for expected in [
        "[env: REVERB_LISTEN, comma-separated] [default: 127.0.0.1:7007]",
        "[env: REVERB_MODE] [default: line]",
        "[env: REVERB_PREFIX] [default: none]",
        "[env: REVERB_CONFIG] [default: none]",
        "[env: REVERB_PID_FILE] [default: none]",
        "[env: REVERB_DELAY]",
    ] {
        assert!(out.contains(expected), "--help lacks {expected:?}:\n{out}");
    }
    assert!(
        !out.contains("REVERB_PRINT_CONFIG"),
        "no variable prints instead of serving"
    );
}

#[test]
fn the_pid_file_is_written_before_the_listening_lines_and_removed_on_a_clean_exit() {
    let dir = Dir::new("pid");
    let pid_file = dir.0.join("reverb.pid");
    let mut server = Server::start(&["--pid-file", pid_file.to_str().unwrap()]);
    let written = std::fs::read_to_string(&pid_file).expect("pid file written before listening");
    assert_eq!(written, format!("{}\n", server.pid()));
    server.connect().roundtrip(b"x\n", b"x\n");
    server.signal("TERM");
    let (status, _) = server.wait_exit();
    assert!(status.success());
    assert!(!pid_file.exists(), "the pid file outlived a clean exit");
}

#[test]
fn sigterm_sent_as_soon_as_the_pid_file_appears_drains_and_exits_zero() {
    let dir = Dir::new("pid-early");
    let pid_file = dir.0.join("reverb.pid");
    let mut command = Command::new(binary());
    command
        .args(["serve", "-l", "127.0.0.1:0", "--pid-file"])
        .arg(&pid_file)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Not waiting for the "listening" lines: the file alone says when to signal.
    let mut server = Server::spawn(command, 0).expect("spawned");
    let deadline = Instant::now() + LIMIT;
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "no pid file within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(
        status.success(),
        "{status:?}: the signal met its default action"
    );
    assert!(out.contains("reverb: stopped by SIGTERM"), "{out}");
    assert!(!pid_file.exists(), "the pid file outlived a clean exit");
}

#[test]
fn a_pid_file_another_process_wrote_since_is_left_alone() {
    let dir = Dir::new("pid-replaced");
    let pid_file = dir.0.join("reverb.pid");
    let mut server = Server::start(&["--pid-file", pid_file.to_str().unwrap()]);
    std::fs::write(&pid_file, "1\n").unwrap();
    server.signal("TERM");
    let (status, _) = server.wait_exit();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), "1\n");
}

#[test]
fn a_pid_file_that_cannot_be_written_stops_the_start_with_a_clear_error() {
    let (status, out, err) = run(
        &[
            "serve",
            "-l",
            "127.0.0.1:0",
            "--pid-file",
            "/nonexistent-reverb-dir/reverb.pid",
        ],
        b"",
    );
    assert_eq!(status.code(), Some(1));
    assert!(!out.contains("listening on"), "{out}");
    assert!(
        err.contains("reverb: error: cannot write the pid file /nonexistent-reverb-dir/reverb.pid: No such file or directory"),
        "{err}"
    );
}
