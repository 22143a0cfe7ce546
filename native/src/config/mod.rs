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

mod env;
mod file;
mod flags;
mod print;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

use env::{blame_env, split_list, with_env};
pub use env::{env_name, ENV_PREFIX};
use file::ConfigFile;
use flags::{check_value, is_list, settings, NOT_FROM_ENV, SERVE};

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
    let mut from_file = BTreeSet::new();
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
            from_file = file.values.keys().cloned().collect();
            matches
        }
    };
    let cli = Cli::from_arg_matches(&matches)?;
    let effective = match serve_matches(&matches) {
        Some(serve) => {
            let plain = command(None)?;
            let serve_command = plain.find_subcommand(SERVE).expect("serve exists");
            Some(print::effective_toml(serve_command, serve, &from_file))
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

#[cfg(test)]
mod tests;
