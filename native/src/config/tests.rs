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

/// `reverb serve ARGS` with no variables set, whatever the environment of the tests.
fn parse(args: &[&str]) -> Result<(ServeArgs, String), SettingsError> {
    parse_env(&[], args)
}

/// `reverb serve ARGS` with exactly the variables `vars`.
fn parse_env(vars: &[(&str, &str)], args: &[&str]) -> Result<(ServeArgs, String), SettingsError> {
    let argv = ["reverb", "serve"].iter().chain(args);
    let parsed = parse_with_vars(argv, &only(vars))?;
    match parsed.cli.command {
        Command::Serve(serve) => Ok((*serve, parsed.effective.unwrap())),
        other => panic!("expected serve, got {other:?}"),
    }
}

/// An environment holding `vars` and nothing else.
fn only<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| OsString::from(value))
    }
}

fn error(args: &[&str]) -> String {
    parse(args).unwrap_err().to_string()
}

fn env_error(vars: &[(&str, &str)], args: &[&str]) -> String {
    parse_env(vars, args).unwrap_err().to_string()
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
    let parsed = parse_with_vars(["reverb", "serve", "--config", path], &only(&[])).unwrap();
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
fn a_flag_wins_over_the_variable_it_conflicts_with_whether_on_or_off() {
    // clap, given the variables itself, refused both: it counts a variable as given
    // whatever its value (clap issue 5591).
    for once in ["true", "false"] {
        let (args, printed) = parse_env(&[("REVERB_ONCE", once)], &["--max-frames", "3"]).unwrap();
        assert!(!args.once, "REVERB_ONCE={once}");
        assert_eq!(args.config().unwrap().echo.max_frames, Some(3));
        assert!(printed.contains("\nmax-frames = 3\n"), "{printed}");
    }
    let (args, _) = parse_env(&[("REVERB_MAX_FRAMES", "3")], &["--once"]).unwrap();
    assert!(args.once && args.max_frames.is_none());
    assert_eq!(args.config().unwrap().echo.max_frames, Some(1));
    // And what the flag does not conflict with stays: a variable beside it is kept.
    let (args, _) = parse_env(
        &[("REVERB_NO_QUIT_WORD", "true"), ("REVERB_PREFIX", "env ")],
        &["--quit-word", "bye"],
    )
    .unwrap();
    assert!(!args.no_quit_word);
    assert_eq!(args.config().unwrap().echo.prefix, b"env ");
}

#[test]
fn a_variable_wins_over_the_file_and_a_switch_set_false_is_off() {
    let once = file("env-once", "once = true\nprefix = \"file \"\n");
    let once = once.to_str().unwrap();
    let (args, _) = parse_env(&[("REVERB_MAX_FRAMES", "3")], &["--config", once]).unwrap();
    assert!(!args.once);
    assert_eq!(args.config().unwrap().echo.max_frames, Some(3));
    let (args, _) = parse_env(&[("REVERB_PREFIX", "env ")], &["--config", once]).unwrap();
    assert!(args.once);
    assert_eq!(args.config().unwrap().echo.prefix, b"env ");
    let frames = file("env-frames", "max-frames = 3\n");
    let frames = frames.to_str().unwrap();
    let (args, _) = parse_env(&[("REVERB_ONCE", "true")], &["--config", frames]).unwrap();
    assert!(args.once && args.max_frames.is_none());
    // Off, the variable takes nothing out: the file's max-frames stands.
    let (args, printed) = parse_env(&[("REVERB_ONCE", "false")], &["--config", frames]).unwrap();
    assert!(!args.once);
    assert_eq!(args.max_frames, Some(3));
    assert!(printed.contains("\nonce = false\n"), "{printed}");
    // REVERB_CONFIG names the file; a flag still beats both.
    let (args, _) = parse_env(
        &[("REVERB_CONFIG", frames), ("REVERB_ONCE", "true")],
        &["--max-frames", "5"],
    )
    .unwrap();
    assert!(!args.once);
    assert_eq!(args.max_frames, Some(5));
}

#[test]
fn two_variables_whose_flags_conflict_are_refused_unless_one_is_off() {
    assert_eq!(
        env_error(&[("REVERB_ONCE", "true"), ("REVERB_MAX_FRAMES", "3")], &[]),
        "REVERB_ONCE: cannot be set with REVERB_MAX_FRAMES, as --once and --max-frames \
         cannot be given together"
    );
    let (args, _) =
        parse_env(&[("REVERB_ONCE", "false"), ("REVERB_MAX_FRAMES", "3")], &[]).unwrap();
    assert_eq!(args.max_frames, Some(3));
    // A count of 0 is off too.
    let argv = ["reverb", "serve"];
    let vars = [("REVERB_QUIET", "0"), ("REVERB_VERBOSE", "2")];
    assert_eq!(parse_with_vars(argv, &only(&vars)).unwrap().cli.verbose, 2);
}

#[test]
fn a_wrong_variable_is_named_with_its_flags_own_message() {
    assert_eq!(
        env_error(&[("REVERB_ONCE", "yes")], &[]),
        "REVERB_ONCE: invalid value 'yes' for '--once' [possible values: true, false]"
    );
    let message = env_error(&[("REVERB_MODE", "fast")], &[]);
    assert!(
        message.starts_with("REVERB_MODE: invalid value 'fast' for '--mode <MODE>'"),
        "{message}"
    );
    let message = env_error(&[("REVERB_LISTEN", "127.0.0.1:0,nowhere")], &[]);
    assert!(
        message.starts_with("REVERB_LISTEN: invalid value 'nowhere'"),
        "{message}"
    );
    assert!(env_error(&[("REVERB_VERBOSE", "lots")], &[]).starts_with("REVERB_VERBOSE: "));
}

#[test]
fn variables_configure_serve_only_and_an_empty_one_is_unset() {
    let bad = [("REVERB_UDP", "nowhere"), ("REVERB_MODE", "fast")];
    for argv in [
        &["reverb", "bench", "127.0.0.1:9"][..],
        &["reverb", "client", "127.0.0.1:9"][..],
    ] {
        let parsed = parse_with_vars(argv, &only(&bad)).unwrap();
        assert!(parsed.effective.is_none(), "{argv:?}");
    }
    let empty = [
        ("REVERB_LISTEN", ""),
        ("REVERB_MODE", ""),
        ("REVERB_ONCE", ""),
    ];
    let (args, _) = parse_env(&empty, &[]).unwrap();
    assert_eq!(args.listen.len(), 1, "the default listener");
    assert_eq!(args.mode, crate::cli::Mode::Line);
    assert!(!args.once);
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
    let command = command(&BTreeMap::new());
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
