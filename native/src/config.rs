//! Where `reverb serve`'s settings come from: the command line, the environment
//! (`REVERB_MODE`, `REVERB_LISTEN`, …) and a TOML file (`--config FILE`), in that order of
//! precedence over the built-in defaults; and `--print-config`, the effective settings
//! written as such a file.
//!
//! Nothing here lists a flag. Every argument of the `serve` command that clap builds from
//! [`ServeArgs`](crate::cli::ServeArgs) gets its variable (`REVERB_` and its long name,
//! upper-cased, `-` as `_`), its key in the file (its long name) and its line in the
//! printed file, so a flag added later gets all three with no edit here. The mechanism is
//! clap's own: the environment is clap's `env` (a repeatable flag's comma-separated list
//! is split here first), a file's values become the arguments' defaults, and the command
//! line overrides both.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// What every variable's name starts with.
pub const ENV_PREFIX: &str = "REVERB_";

/// The subcommand whose flags are configuration.
const SERVE: &str = "serve";

/// Flags that say where the settings come from or what to do with them, not what they
/// are: no file sets them (a file naming another file, or a file that only prints itself).
const NOT_IN_FILE: [&str; 2] = ["config", "print-config"];

/// Flags no variable sets: a stray `REVERB_PRINT_CONFIG` in a service's environment would
/// keep it from ever serving.
const NOT_FROM_ENV: [&str; 1] = ["print-config"];

/// The command line, parsed with the environment and the file behind it.
#[derive(Debug)]
pub struct Parsed {
    /// What clap's derive made of it all.
    pub cli: Cli,
    /// For `reverb serve`: its effective settings as a TOML file (`--print-config`).
    pub effective: Option<String>,
}

/// Why the settings could not be read. Clap's own errors keep clap's formatting and exit
/// code; the others are one line, naming the file or the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The command line (or a variable clap read) is wrong, or `--help` / `--version`.
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// The file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is read but wrong: not TOML, an unknown key, a wrong value.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A repeatable flag's variable holds a value its flag would refuse.
    #[error("{name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// The variable that sets the flag with this long name: `max-line` → `REVERB_MAX_LINE`.
pub fn env_name(long: &str) -> String {
    format!("{ENV_PREFIX}{}", long.to_uppercase().replace('-', "_"))
}

/// Parses `argv` (the program's name first) with the process's environment and, when
/// `--config` or `REVERB_CONFIG` names one, the file.
pub fn parse_from<I, T>(argv: I) -> Result<Parsed, SettingsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    // First without a file, to learn whether there is one: the file's values become
    // defaults, so they can only be installed before the parse that uses them.
    let mut first = command(None)?;
    let matches = first
        .try_get_matches_from_mut(&argv)
        .map_err(|e| blame_env(&first, &argv, e))?;
    let path = serve_matches(&matches).and_then(|m| m.get_one::<PathBuf>("config").cloned());
    let matches = match path {
        None => matches,
        Some(path) => {
            let mut file = ConfigFile::read(&path)?;
            let mut with_file = command(Some(&file))?;
            let mut matches = with_file
                .try_get_matches_from_mut(&argv)
                .map_err(|e| blame_env(&with_file, &argv, e))?;
            // A flag overrides the file's setting it conflicts with (`--max-frames 3`
            // over the file's `once = true`); clap leaves defaults out of its conflict
            // checks, so the file's setting would otherwise win silently.
            let overridden = overridden_by_flags(&with_file, &matches, &file);
            if !overridden.is_empty() {
                file.values.retain(|key, _| !overridden.contains(key));
                with_file = command(Some(&file))?;
                matches = with_file.try_get_matches_from_mut(&argv)?;
            }
            matches
        }
    };
    let cli = Cli::from_arg_matches(&matches)?;
    let effective = match serve_matches(&matches) {
        Some(serve) => {
            let plain = command(None)?;
            let serve_command = plain.find_subcommand(SERVE).expect("serve exists");
            Some(effective_toml(serve_command, serve))
        }
        None => None,
    };
    Ok(Parsed { cli, effective })
}

/// `Cli`'s clap command, built, with every `serve` flag given its variable and, from
/// `file`, its default.
fn command(file: Option<&ConfigFile>) -> Result<clap::Command, SettingsError> {
    let mut command = Cli::command();
    // Built first: clap then knows each flag's value parser (a boolean flag's comes from
    // its action) and has copied the global flags (`--log-format`) into `serve`.
    command.build();
    let serve = command
        .find_subcommand(SERVE)
        .expect("reverb has a serve subcommand");
    let mut defaults: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for arg in settings(serve) {
        let long = arg.get_long().expect("settings have long names");
        let name = env_name(long);
        // A repeatable flag takes a comma-separated list from its variable; clap would
        // take the whole variable as one value (a comma is valid inside a listener's
        // URL on the command line), so the list is split and checked here and becomes
        // the default. Checked first: clap asserts that a default is valid.
        if is_list(arg) && !NOT_FROM_ENV.contains(&long) {
            if let Some(value) = std::env::var_os(&name) {
                let values = split_list(&value);
                for value in &values {
                    check_value(serve, arg, value).map_err(|message| SettingsError::Env {
                        name: name.clone(),
                        message,
                    })?;
                }
                defaults.insert(arg.get_id().to_string(), values);
                continue;
            }
        }
        if let Some(values) = file.and_then(|f| f.values.get(long)) {
            defaults.insert(arg.get_id().to_string(), values.clone());
        }
    }
    if let Some(file) = file {
        file.check(serve)?;
    }
    // `mut_args`, not `mut_arg`: on a built command, `mut_arg` moves the argument to the
    // end and clap's index of long names then points at its neighbour.
    Ok(command.mut_subcommand(SERVE, |serve| {
        serve.mut_args(|arg| {
            let values = defaults.get(arg.get_id().as_str()).cloned();
            let arg = with_env(arg);
            match values {
                Some(values) => arg.default_values(values),
                None => arg,
            }
        })
    }))
}

/// Gives a flag its variable, and names it in `--help` where the flag's line still ends
/// with its default: before a hand-written `[default: …]`, or where clap puts its own
/// `[default: …]` after it.
fn with_env(arg: Arg) -> Arg {
    let Some(long) = arg.get_long().filter(|_| is_setting(&arg)) else {
        return arg;
    };
    let long = long.to_owned();
    let name = env_name(&long);
    let list = if is_list(&arg) {
        ", comma-separated"
    } else {
        ""
    };
    if NOT_FROM_ENV.contains(&long.as_str()) {
        return arg;
    }
    let shown = format!("[env: {name}{list}]");
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    let help = match help.rfind("[default:") {
        Some(at) => format!("{}{shown} {}", &help[..at], &help[at..]),
        None => format!("{help} {shown}"),
    };
    let arg = arg.help(help).hide_env(true);
    if is_list(&arg) {
        // A list's variable is read in `command`.
        return arg;
    }
    arg.env(name)
}

/// The flags that are settings: every `serve` argument with a long name, but `--help`
/// and `--version`.
fn settings(serve: &clap::Command) -> impl Iterator<Item = &Arg> {
    serve.get_arguments().filter(|arg| is_setting(arg))
}

fn is_setting(arg: &Arg) -> bool {
    arg.get_long().is_some()
        && !matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
}

/// Whether the flag may be given several times (`-l`, `--udp`).
fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// Whether the flag is an on/off switch (`--once`): `true` or `false` in the file.
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// Whether the flag counts its repeats (`-vv`): a number in the file.
fn is_count(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Count)
}

fn split_list(value: &OsStr) -> Vec<String> {
    value
        .to_string_lossy()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// Gives `value` to the flag on a command line of its own: the message is the one the
/// flag would give (`invalid value 'lots' for '--max-line <SIZE>': …`). A switch takes
/// no value on the command line; its `true`/`false` is checked by the caller.
fn check_value(serve: &clap::Command, arg: &Arg, value: &str) -> Result<(), String> {
    if is_switch(arg) {
        return Ok(());
    }
    if is_count(arg) {
        // `-vv` on the command line; a number in a file or a variable.
        return value
            .parse::<u8>()
            .map(drop)
            .map_err(|_| format!("invalid value '{value}': a count (0, 1, 2, …) is expected"));
    }
    let long = arg.get_long().expect("settings have long names");
    let argv = [SERVE.to_owned(), format!("--{long}={value}")];
    match serve.clone().try_get_matches_from(argv) {
        // What a lone flag lacks (`--tls-cert` without `--tls-key`) is not its value's
        // fault: the value itself was read.
        Err(e)
            if !matches!(
                e.kind(),
                ErrorKind::MissingRequiredArgument | ErrorKind::ArgumentConflict
            ) =>
        {
            Err(first_line(&e))
        }
        _ => Ok(()),
    }
}

/// A clap error's message on one line, without its `error: `, usage and tip.
fn first_line(error: &clap::Error) -> String {
    let text = error.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_owned()
}

/// A value clap refused that came from a variable, not from the command line, is
/// blamed on the variable: clap's message names only the flag.
fn blame_env(command: &clap::Command, argv: &[OsString], error: clap::Error) -> SettingsError {
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return error.into();
    };
    let Some(serve) = command.find_subcommand(SERVE) else {
        return error.into();
    };
    let arg = settings(serve).find(|arg| {
        let long = arg.get_long().expect("settings have long names");
        shown.starts_with(&format!("--{long} ")) || shown == &format!("--{long}")
    });
    let Some(arg) = arg.filter(|arg| !NOT_FROM_ENV.contains(&arg.get_long().unwrap_or(""))) else {
        return error.into();
    };
    let long = arg.get_long().expect("settings have long names");
    let on_command_line = argv.iter().any(|a| {
        let a = a.to_string_lossy();
        a == format!("--{long}")
            || a.starts_with(&format!("--{long}="))
            || arg.get_short().is_some_and(|short| {
                a.starts_with('-') && !a.starts_with("--") && a.contains(short)
            })
    });
    let name = env_name(long);
    if on_command_line || std::env::var_os(&name).is_none() {
        return error.into();
    }
    SettingsError::Env {
        name,
        message: first_line(&error),
    }
}

fn serve_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    matches.subcommand_matches(SERVE)
}

/// The file's settings that a flag or a variable conflicts with.
fn overridden_by_flags(
    command: &clap::Command,
    matches: &ArgMatches,
    file: &ConfigFile,
) -> BTreeSet<String> {
    let (Some(serve), Some(matches)) = (command.find_subcommand(SERVE), serve_matches(matches))
    else {
        return BTreeSet::new();
    };
    let given = |arg: &Arg| {
        matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut overridden = BTreeSet::new();
    for explicit in settings(serve).filter(|a| given(a)) {
        for other in settings(serve).filter(|a| !given(a)) {
            let long = other.get_long().expect("settings have long names");
            let conflict = |a: &Arg, b: &Arg| {
                serve
                    .get_arg_conflicts_with(a)
                    .iter()
                    .any(|c| c.get_id() == b.get_id())
            };
            if file.values.contains_key(long)
                && (conflict(explicit, other) || conflict(other, explicit))
            {
                overridden.insert(long.to_owned());
            }
        }
    }
    overridden
}

/// A config file: each key a long flag name, each value as the flag would take it.
#[derive(Debug, Clone)]
struct ConfigFile {
    path: PathBuf,
    /// The values, as text, by key; a list for a repeatable flag.
    values: std::collections::BTreeMap<String, Vec<String>>,
    /// The keys as written, to check against the flags once they are known.
    table: toml::Table,
}

impl ConfigFile {
    fn read(path: &Path) -> Result<ConfigFile, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::File {
                    path: path.to_owned(),
                    message: e.to_string().trim_end().to_owned(),
                })?;
        let mut values = std::collections::BTreeMap::new();
        for (key, value) in &table {
            // The shape is checked against the flag in `check`; here only scalars and
            // lists of scalars become text.
            let text = match value {
                toml::Value::Array(items) => items.iter().map(scalar).collect(),
                other => vec![scalar(other)],
            };
            values.insert(key.clone(), text.into_iter().flatten().collect());
        }
        Ok(ConfigFile {
            path: path.to_owned(),
            values,
            table,
        })
    }

    fn fail(&self, message: String) -> SettingsError {
        SettingsError::File {
            path: self.path.clone(),
            message,
        }
    }

    /// Every key names a setting, and every value is one its flag takes, checked by the
    /// flag's own parser.
    fn check(&self, serve: &clap::Command) -> Result<(), SettingsError> {
        for (key, value) in &self.table {
            let arg = settings(serve)
                .find(|a| a.get_long() == Some(key.as_str()))
                .filter(|_| !NOT_IN_FILE.contains(&key.as_str()));
            let Some(arg) = arg else {
                return Err(self.fail(unknown_key(serve, key)));
            };
            let items = match value {
                toml::Value::Array(items) if is_list(arg) => {
                    if items.is_empty() {
                        return Err(self.fail(format!(
                            "{key}: an empty list; leave the key out for the default"
                        )));
                    }
                    items.iter().collect()
                }
                toml::Value::Array(_) => {
                    return Err(self.fail(format!(
                        "{key}: takes one value, not a list (--{key} is not repeatable)"
                    )))
                }
                one => vec![one],
            };
            for item in items {
                let text = scalar(item).ok_or_else(|| {
                    self.fail(format!(
                        "{key}: expected a string, a number or true/false, not {}",
                        item.type_str()
                    ))
                })?;
                if is_switch(arg) && !matches!(item, toml::Value::Boolean(_)) {
                    return Err(self.fail(format!(
                        "{key}: expected true or false (--{key} is a switch), not {item}"
                    )));
                }
                check_value(serve, arg, &text).map_err(|m| self.fail(format!("{key}: {m}")))?;
            }
        }
        Ok(())
    }
}

/// A TOML scalar as the text a flag would be given; `None` for a table, a list or a date.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// "unknown key", with clap's suggestion of the closest flag when it has one.
fn unknown_key(serve: &clap::Command, key: &str) -> String {
    if NOT_IN_FILE.contains(&key) {
        return format!("{key}: only a command-line flag, not a setting a file may hold");
    }
    let suggestion = serve
        .clone()
        .try_get_matches_from([SERVE.to_owned(), format!("--{key}")])
        .err()
        .filter(|e| e.kind() == ErrorKind::UnknownArgument)
        .and_then(|e| match e.get(ContextKind::SuggestedArg) {
            Some(ContextValue::String(flag)) => Some(flag.trim_start_matches('-').to_owned()),
            _ => None,
        });
    match suggestion {
        Some(near) => format!("unknown key '{key}' (did you mean '{near}'?)"),
        None => format!("unknown key '{key}': keys are reverb serve's long flag names"),
    }
}

/// The effective settings as a TOML file that `--config` reads back to the same
/// settings: every setting with its flag's help as a comment, an unset one commented out.
fn effective_toml(serve: &clap::Command, matches: &ArgMatches) -> String {
    let mut out = String::from(
        "# reverb serve's effective configuration (flags over REVERB_* variables over the\n\
         # config file over built-in defaults). Read it back with --config FILE.\n",
    );
    for arg in settings(serve) {
        let key = arg.get_long().expect("settings have long names");
        if NOT_IN_FILE.contains(&key) {
            continue;
        }
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        out.push_str(&format!(
            "\n# {}\n",
            help.lines().next().unwrap_or_default()
        ));
        let values: Vec<String> = matches
            .get_raw(arg.get_id().as_str())
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let line = match values.as_slice() {
            [] => format!("# {key} =\n"),
            _ if is_list(arg) => {
                let items: Vec<String> = values.iter().map(|v| toml_value(arg, v)).collect();
                format!("{key} = [{}]\n", items.join(", "))
            }
            [one, ..] => format!("{key} = {}\n", toml_value(arg, one)),
        };
        out.push_str(&line);
    }
    out
}

/// A value as TOML: a switch as a boolean, a number that reads back as the same text as
/// an integer, anything else as a string.
fn toml_value(arg: &Arg, text: &str) -> String {
    if is_switch(arg) {
        if let Ok(b) = text.parse::<bool>() {
            return toml::Value::Boolean(b).to_string();
        }
    }
    match text.parse::<i64>() {
        Ok(n) if n.to_string() == text => toml::Value::Integer(n).to_string(),
        _ => toml::Value::String(text.to_owned()).to_string(),
    }
}

#[cfg(test)]
mod tests {
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
        let (args, _) =
            parse(&["--config", path, "--mode", "collect", "-l", "127.0.0.1:0"]).unwrap();
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
        let (args, _) =
            parse(&["--config", path, "--max-frames", "3", "--quit-word", "bye"]).unwrap();
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
}
