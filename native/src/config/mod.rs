//! Where `reverb serve`'s settings come from: the command line, the environment
//! (`REVERB_MODE`, `REVERB_LISTEN`, …) and a TOML file (`--config FILE`), in that order of
//! precedence over the built-in defaults; and `--print-config`, the effective settings
//! written as such a file.
//!
//! Nothing here lists a flag. Every argument of the `serve` command that clap builds from
//! [`ServeArgs`](crate::cli::ServeArgs) gets its variable (`REVERB_` and its long name,
//! upper-cased, `-` as `_`), its key in the file (its long name) and its line in the
//! printed file, so a flag added later gets all three with no edit here. The mechanism is
//! clap's defaults: the file's values and, over them, the variables' (a repeatable flag's
//! comma-separated list split) become the arguments' defaults, which the command line
//! overrides. Each source overrides the lower ones' settings it conflicts with, and a
//! switch set to `false` conflicts with nothing, whichever source it is in.

mod env;
mod file;
mod flags;
mod print;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

use env::named_in_help;
pub use env::{env_name, ENV_PREFIX};
use file::ConfigFile;
use flags::{drop_overridden, is_on, is_setting, settings, SERVE};

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
    /// The command line is wrong, or `--help` / `--version`.
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
    /// A variable holds a value its flag would refuse, or one whose flag conflicts with
    /// another variable's.
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
    parse_with_vars(argv, &|name| std::env::var_os(name))
}

/// [`parse_from`] with `vars` for the environment: the tests give each parse its own.
fn parse_with_vars<I, T>(
    argv: I,
    vars: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Parsed, SettingsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    // First the command line alone: what it says, whether it runs `serve` (the only
    // subcommand the variables and the file configure) and whether it names a file.
    let mut plain = command(&BTreeMap::new());
    let matches = plain.try_get_matches_from_mut(&argv)?;
    let Some(given) = serve_matches(&matches) else {
        return Ok(Parsed {
            cli: Cli::from_arg_matches(&matches)?,
            effective: None,
        });
    };
    let serve = plain.find_subcommand(SERVE).expect("serve exists");
    let from_env = env::read(serve, vars)?;
    let path = given.get_one::<PathBuf>("config").cloned().or_else(|| {
        let from_env = from_env.get("config")?.first()?;
        Some(PathBuf::from(from_env))
    });
    // The sources below the command line, layered into one set of defaults: the file,
    // then the variables over it. A higher source's setting that is on also takes out a
    // lower one's it conflicts with (`REVERB_MAX_FRAMES=3` over the file's `once =
    // true`); one that is off (`REVERB_ONCE=false`) conflicts with nothing.
    let mut layered = match path {
        Some(path) => {
            let file = ConfigFile::read(&path)?;
            file.check(serve)?;
            file.values
        }
        None => BTreeMap::new(),
    };
    let env_on = settings(serve).filter(|arg| {
        let long = arg.get_long().unwrap_or_default();
        from_env.get(long).is_some_and(|values| is_on(arg, values))
    });
    drop_overridden(serve, &mut layered, env_on);
    layered.extend(from_env);
    // A flag overrides what it conflicts with (`--max-frames 3` over `REVERB_ONCE=true` or
    // the file's `once = true`): clap leaves defaults out of its conflict checks, so the
    // lower setting would otherwise win silently.
    let on_command_line = settings(serve)
        .filter(|arg| given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine));
    drop_overridden(serve, &mut layered, on_command_line);
    let from_sources: BTreeSet<String> = layered.keys().cloned().collect();
    let mut layered_command = command(&layered);
    let matches = layered_command.try_get_matches_from_mut(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let serve_matches = serve_matches(&matches).expect("the same command line runs serve");
    let effective = print::effective_toml(serve, serve_matches, &from_sources);
    Ok(Parsed {
        cli,
        effective: Some(effective),
    })
}

/// `Cli`'s clap command, built, with every `serve` flag's variable named in its help and
/// `defaults` (by long name: the file's and the variables' values) as its defaults.
fn command(defaults: &BTreeMap<String, Vec<String>>) -> clap::Command {
    let mut command = Cli::command();
    // Built first: clap then knows each flag's value parser (a boolean flag's comes from
    // its action) and has copied the global flags (`--log-format`) into `serve`.
    command.build();
    // `mut_args`, not `mut_arg`: on a built command, `mut_arg` moves the argument to the
    // end and clap's index of long names then points at its neighbour.
    command.mut_subcommand(SERVE, |serve| {
        serve.mut_args(|arg| {
            let values = arg
                .get_long()
                .filter(|_| is_setting(&arg))
                .and_then(|long| defaults.get(long))
                .cloned();
            let arg = named_in_help(arg);
            match values {
                Some(values) => arg.default_values(values),
                None => arg,
            }
        })
    })
}

fn serve_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    matches.subcommand_matches(SERVE)
}

#[cfg(test)]
mod tests;
