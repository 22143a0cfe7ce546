//! The settings' sources end to end, in process: the file, the precedence, the
//! printed file read back, and that every flag is a key and a variable.

use super::flags::{settings, NOT_FROM_ENV, NOT_IN_FILE, SERVE};
use super::*;
use crate::cli::{Command, ServeArgs};

/// A file in a temporary directory of this test's own, removed with it.
struct TempFile(PathBuf);

impl TempFile {
    fn to_str(&self) -> Option<&str> {
        self.0.to_str()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn file(name: &str, text: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("reverb-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reverb.toml");
    std::fs::write(&path, text).unwrap();
    TempFile(path)
}

fn parse(args: &[&str]) -> Result<(ServeArgs, String), SettingsError> {
    let argv = ["reverb", "serve"].iter().chain(args);
    let parsed = parse_from(argv)?;
    match parsed.cli.command {
        Command::Serve(serve) => Ok((*serve, parsed.effective.unwrap())),
        other => panic!("expected serve, got {other:?}"),
    }
}

fn error(args: &[&str]) -> String {
    parse(args).unwrap_err().to_string()
}

#[test]
fn names_of_variables() {
    assert_eq!(env_name("max-line"), "REVERB_MAX_LINE");
    assert_eq!(env_name("listen"), "REVERB_LISTEN");
}

#[test]
fn the_file_sets_what_no_flag_does() {
    let path = file(
        "sets",
        "mode = \"raw\"\nlisten = [\"tcp://127.0.0.1:7101\", \"ws://127.0.0.1:7180\"]\n\
         max-line = \"64KiB\"\nmax-connections = 50\nproxy-protocol = true\n\
         fault-chance = 0.25\nlog-format = \"json\"\nverbose = 1\n",
    );
    let path = path.to_str().unwrap();
    let (args, _) = parse(&["--config", path]).unwrap();
    assert_eq!(args.mode, crate::cli::Mode::Raw);
    assert_eq!(args.listen.len(), 2);
    assert_eq!(args.max_line, 64 << 10);
    assert_eq!(args.max_connections, 50);
    assert!(args.proxy_protocol);
    assert!(args.faults.fault_chance.is_some());
    // The global flags too, which clap reads from the subcommand into `Cli`.
    let parsed = parse_from(["reverb", "serve", "--config", path]).unwrap();
    assert_eq!(parsed.cli.log_format, crate::logging::LogFormat::Json);
    assert_eq!(parsed.cli.verbose, 1);
    // A flag wins over the file; a flag the file does not name keeps its default.
    let (args, _) = parse(&["--config", path, "--mode", "collect", "-l", "127.0.0.1:0"]).unwrap();
    assert_eq!(args.mode, crate::cli::Mode::Collect);
    assert_eq!(args.listen.len(), 1);
    assert_eq!(args.max_line, 64 << 10);
    assert_eq!(args.flush_timeout, std::time::Duration::from_secs(10));
}

#[test]
fn a_flag_wins_over_the_file_setting_it_conflicts_with() {
    let path = file("conflict", "once = true\nno-quit-word = true\n");
    let path = path.to_str().unwrap();
    let (args, _) = parse(&["--config", path]).unwrap();
    assert!(args.once && args.no_quit_word);
    let (args, _) = parse(&["--config", path, "--max-frames", "3", "--quit-word", "bye"]).unwrap();
    assert!(!args.once && !args.no_quit_word);
    assert_eq!(args.max_frames, Some(3));
    assert_eq!(
        args.config().unwrap().echo.quit_word.as_deref(),
        Some(&b"bye"[..])
    );
}

#[test]
fn print_config_reads_back_to_the_same_settings() {
    let path = file(
        "first",
        "mode = \"collect\"\nlisten = [\"tcp://127.0.0.1:7101?prefix=a,b\", \"127.0.0.1:7102\"]\n\
         udp = [\"127.0.0.1:7103\"]\nprefix = \"007\"\nsuffix = '\\r\\n'\nonce = true\n\
         idle-timeout = \"30s\"\nlinger = \"off\"\nchunk = \"1..9\"\nseed = 42\n",
    );
    let path = path.to_str().unwrap();
    let (args, printed) = parse(&["--config", path, "--max-line", "1KiB", "-q"]).unwrap();
    let again = file("again", &printed);
    let (same, reprinted) = parse(&["--config", again.to_str().unwrap()]).unwrap();
    assert_eq!(printed, reprinted);
    assert_eq!(args.config().unwrap(), same.config().unwrap());
    assert_eq!(same.listen.len(), 2);
    assert_eq!(same.udp.len(), 1);
    assert!(printed.contains("prefix = \"007\"\n"), "{printed}");
    assert!(printed.contains("seed = 42\n"), "{printed}");
    assert!(printed.contains("quiet = 1\n"), "{printed}");
    assert!(printed.contains("# max-frames =\n"), "{printed}");
}

#[test]
fn a_default_that_a_setting_rules_out_is_not_printed() {
    let (args, printed) = parse(&["--no-quit-word", "--mode", "raw", "--once"]).unwrap();
    assert!(
        printed.contains("\n# quit-word =   (off: no-quit-word is set)\n"),
        "{printed}"
    );
    assert!(printed.contains("\n# max-frames =\n"), "{printed}");
    let again = file("ruled-out", &printed);
    let (same, reprinted) = parse(&["--config", again.to_str().unwrap()]).unwrap();
    assert_eq!(printed, reprinted);
    assert_eq!(args.config().unwrap(), same.config().unwrap());
}

#[test]
fn every_flag_is_a_key_and_a_variable_with_no_list_to_keep() {
    let command = command(None).unwrap();
    let serve = command.find_subcommand(SERVE).unwrap();
    let (_, printed) = parse(&[]).unwrap();
    let help = serve.clone().render_help().to_string();
    let mut count = 0;
    for arg in settings(serve) {
        let long = arg.get_long().unwrap();
        if !NOT_FROM_ENV.contains(&long) {
            assert!(
                help.contains(&env_name(long)),
                "--help lacks {}",
                env_name(long)
            );
        }
        if !NOT_IN_FILE.contains(&long) {
            let set = format!("\n{long} = ");
            let unset = format!("\n# {long} =\n");
            assert!(
                printed.contains(&set) || printed.contains(&unset),
                "no {long}"
            );
            count += 1;
        }
    }
    assert!(count > 50, "only {count} settings");
}

#[test]
fn a_wrong_file_names_the_file_and_the_key() {
    let unknown = file("unknown", "max_line = \"1KiB\"\n");
    let unknown = unknown.to_str().unwrap();
    assert_eq!(
        error(&["--config", unknown]),
        format!("{unknown}: unknown key 'max_line' (did you mean 'max-line'?)")
    );
    let bad = file("bad", "max-line = \"lots\"\n");
    let bad = bad.to_str().unwrap();
    let message = error(&["--config", bad]);
    assert!(
        message.starts_with(&format!(
            "{bad}: max-line: invalid value 'lots' for '--max-line <SIZE>'"
        )),
        "{message}"
    );
    for (name, text, expected) in [
        ("switch", "once = \"yes\"\n", "once: expected true or false"),
        (
            "list",
            "mode = [\"raw\"]\n",
            "mode: takes one value, not a list",
        ),
        (
            "table",
            "[mode]\nx = 1\n",
            "mode: expected a string, a number or true/false",
        ),
        ("empty", "listen = []\n", "listen: an empty list"),
        (
            "itself",
            "config = \"other.toml\"\n",
            "config: only a command-line flag",
        ),
        ("syntax", "mode = raw\n", "TOML parse error at line 1"),
        (
            "together",
            "once = true\nmax-frames = 3\n",
            "once and max-frames cannot both be set",
        ),
        (
            "choice",
            "mode = \"fast\"\n",
            "[possible values: raw, line, collect]",
        ),
    ] {
        let path = file(name, text);
        let message = error(&["--config", path.to_str().unwrap()]);
        assert!(message.contains(expected), "{name}: {message}");
    }
    assert!(error(&["--config", "/nonexistent-reverb.toml"]).starts_with("cannot read"));
}
