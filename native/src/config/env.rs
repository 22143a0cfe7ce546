//! `REVERB_*` variables: their names, clap's `env` on each flag, a repeatable flag's
//! comma-separated list, and an error blamed on the variable that caused it.

use std::ffi::{OsStr, OsString};

use clap::error::{ContextKind, ContextValue};
use clap::Arg;

use super::flags::{first_line, is_list, is_setting, settings, NOT_FROM_ENV, SERVE};
use super::SettingsError;

/// What every variable's name starts with.
pub const ENV_PREFIX: &str = "REVERB_";

/// The variable that sets the flag with this long name: `max-line` → `REVERB_MAX_LINE`.
pub fn env_name(long: &str) -> String {
    format!("{ENV_PREFIX}{}", long.to_uppercase().replace('-', "_"))
}

/// Gives a flag its variable, and names it in `--help` where the flag's line still ends
/// with its default: before a hand-written `[default: …]`, or where clap puts its own
/// `[default: …]` after it.
pub(super) fn with_env(arg: Arg) -> Arg {
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

/// A repeatable flag's variable as its values: split at every comma, nothing trimmed
/// (a space may belong to a listener's `?prefix=`).
pub(super) fn split_list(value: &OsStr) -> Vec<String> {
    value
        .to_string_lossy()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A value clap refused that came from a variable, not from the command line, is
/// blamed on the variable: clap's message names only the flag.
pub(super) fn blame_env(
    command: &clap::Command,
    argv: &[OsString],
    error: clap::Error,
) -> SettingsError {
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
