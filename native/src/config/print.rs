//! `--print-config`: the effective settings as a TOML file that `--config` reads back.

use std::collections::BTreeSet;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches};

use super::flags::{conflict, is_list, is_on, is_switch, settings, NOT_IN_FILE};

/// The effective settings as a TOML file that `--config` reads back to the same
/// settings: every setting with its flag's help as a comment, an unset one commented out.
/// `from_sources` names the settings the variables and the file gave.
pub(super) fn effective_toml(
    serve: &clap::Command,
    matches: &ArgMatches,
    from_sources: &BTreeSet<String>,
) -> String {
    let mut out = String::from(
        "# reverb serve's effective configuration (flags over REVERB_* variables over the\n\
         # config file over built-in defaults). Read it back with --config FILE.\n",
    );
    let raw = |arg: &Arg| -> Vec<String> {
        matches
            .get_raw(arg.get_id().as_str())
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    // Set by a flag, a variable or the file, rather than left at its built-in default.
    let set = |arg: &Arg| {
        let long = arg.get_long().unwrap_or_default();
        matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            || from_sources.contains(long)
    };
    // A built-in default that a setting which is set and on rules out (the quit word's,
    // under `--no-quit-word`) is no setting: written, it would make the file refuse
    // itself.
    let ruled_out = |arg: &Arg| -> Option<&str> {
        if set(arg) {
            return None;
        }
        settings(serve)
            .filter(|other| set(other) && is_on(other, &raw(other)))
            .find(|other| conflict(serve, arg, other))
            .and_then(Arg::get_long)
    };
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
        let values = raw(arg);
        let line = match values.as_slice() {
            [] => format!("# {key} =\n"),
            _ if ruled_out(arg).is_some() => {
                let by = ruled_out(arg).unwrap_or_default();
                format!("# {key} =   (off: {by} is set)\n")
            }
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
pub(super) fn toml_value(arg: &Arg, text: &str) -> String {
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
