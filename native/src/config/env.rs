//! `REVERB_*` variables: their names, their place in `--help`, and their values, read and
//! checked as the settings of one more source below the command line.
//!
//! Clap's own `env` is not used: clap counts a variable as given in its conflict checks
//! whatever its value (clap issue 5591), so `REVERB_ONCE=false` beside `--max-frames 3`
//! would be refused, and a variable could never give way to a flag it conflicts with.
//! Read here, the variables become defaults like the file's settings, and one rule covers
//! both: what is off conflicts with nothing, and a higher source overrides a lower one's
//! setting it conflicts with.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::Arg;

use super::flags::{check_value, conflicting, is_list, is_setting, settings, NOT_FROM_ENV};
use super::SettingsError;

/// What every variable's name starts with.
pub const ENV_PREFIX: &str = "REVERB_";

/// The variable that sets the flag with this long name: `max-line` → `REVERB_MAX_LINE`.
pub fn env_name(long: &str) -> String {
    format!("{ENV_PREFIX}{}", long.to_uppercase().replace('-', "_"))
}

/// The variables' values by flag's long name, a list's split: each checked by its flag's
/// own parser, and two variables whose flags conflict refused, as the flags would be. An
/// empty variable is as if unset (`REVERB_LISTEN=` in a unit file that clears it).
pub(super) fn read(
    serve: &clap::Command,
    vars: &dyn Fn(&str) -> Option<OsString>,
) -> Result<BTreeMap<String, Vec<String>>, SettingsError> {
    let mut values = BTreeMap::new();
    for arg in settings(serve) {
        let long = arg.get_long().expect("settings have long names");
        if NOT_FROM_ENV.contains(&long) {
            continue;
        }
        let name = env_name(long);
        let Some(value) = vars(&name).filter(|value| !value.is_empty()) else {
            continue;
        };
        let fail = |message: String| SettingsError::Env {
            name: name.clone(),
            message,
        };
        // A path or a word that is not UTF-8 would come out changed; refused, not guessed.
        let value = value
            .into_string()
            .map_err(|_| fail("not valid UTF-8".to_owned()))?;
        let list = if is_list(arg) {
            split_list(&value)
        } else {
            vec![value]
        };
        for item in &list {
            check_value(serve, arg, item).map_err(fail)?;
        }
        values.insert(long.to_owned(), list);
    }
    if let Some((arg, other)) = conflicting(serve, &values) {
        let (long, other_long) = (
            arg.get_long().unwrap_or_default(),
            other.get_long().unwrap_or_default(),
        );
        return Err(SettingsError::Env {
            name: env_name(long),
            message: format!(
                "cannot be set with {}, as --{long} and --{other_long} cannot be given together",
                env_name(other_long)
            ),
        });
    }
    Ok(values)
}

/// Names a flag's variable in `--help` where the flag's line still ends with its default:
/// before a hand-written `[default: …]`, or where clap puts its own `[default: …]` after
/// it. Only the help: the value is read by [`read`].
pub(super) fn named_in_help(arg: Arg) -> Arg {
    let Some(long) = arg.get_long().filter(|_| is_setting(&arg)) else {
        return arg;
    };
    if NOT_FROM_ENV.contains(&long) {
        return arg;
    }
    let list = if is_list(&arg) {
        ", comma-separated"
    } else {
        ""
    };
    let shown = format!("[env: {}{list}]", env_name(long));
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    let help = match help.rfind("[default:") {
        Some(at) => format!("{}{shown} {}", &help[..at], &help[at..]),
        None => format!("{help} {shown}"),
    };
    arg.help(help)
}

/// A repeatable flag's variable as its values: split at every comma, nothing trimmed
/// (a space may belong to a listener's `?prefix=`). So a listener whose URL holds a comma
/// cannot come from a variable: the file's list or `-l` takes it.
pub(super) fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::to_owned).collect()
}
