//! What clap says about a `serve` flag: whether it is a setting, a list, a switch or a
//! count, and whether a value is one it takes, asked of clap itself.

use std::collections::BTreeMap;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction};

/// The subcommand whose flags are configuration.
pub(super) const SERVE: &str = "serve";

/// Flags that say where the settings come from or what to do with them, not what they
/// are: no file sets them (a file naming another file, or a file that only prints itself).
pub(super) const NOT_IN_FILE: [&str; 2] = ["config", "print-config"];

/// Flags no variable sets: a stray `REVERB_PRINT_CONFIG` in a service's environment would
/// keep it from ever serving.
pub(super) const NOT_FROM_ENV: [&str; 1] = ["print-config"];

/// The flags that are settings: every `serve` argument with a long name, but `--help`
/// and `--version`.
pub(super) fn settings(serve: &clap::Command) -> impl Iterator<Item = &Arg> {
    serve.get_arguments().filter(|arg| is_setting(arg))
}

pub(super) fn is_setting(arg: &Arg) -> bool {
    arg.get_long().is_some()
        && !matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
}

/// Whether the flag may be given several times (`-l`, `--udp`).
pub(super) fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// Whether the flag is an on/off switch (`--once`): `true` or `false` in the file.
pub(super) fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// Whether the flag counts its repeats (`-vv`): a number in the file.
pub(super) fn is_count(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Count)
}

/// Gives `value` to the flag on a command line of its own: the message is the one the
/// flag would give (`invalid value 'lots' for '--max-line <SIZE>': …`). A switch takes
/// no value on the command line, so its `true` or `false` is checked here, as clap's own
/// parser for a switch's value checks it.
pub(super) fn check_value(serve: &clap::Command, arg: &Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().expect("settings have long names");
    if is_switch(arg) {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err(format!(
                "invalid value '{value}' for '--{long}' [possible values: true, false]"
            )),
        };
    }
    if is_count(arg) {
        // `-vv` on the command line; a number in a file or a variable.
        return value
            .parse::<u8>()
            .map(drop)
            .map_err(|_| format!("invalid value '{value}': a count (0, 1, 2, …) is expected"));
    }
    let argv = [SERVE.to_owned(), format!("--{long}={value}")];
    match serve.clone().try_get_matches_from(argv) {
        // What a lone flag lacks (a flag another requires) or another rules out is not
        // its value's fault: the value itself was read.
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
pub(super) fn first_line(error: &clap::Error) -> String {
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

/// Whether these values turn the flag on: a switch set to `false` and a count of 0 are
/// off, as is no value at all. Only flags that are on conflict with others.
pub(super) fn is_on(arg: &Arg, values: &[String]) -> bool {
    match values {
        [] => false,
        [one] if is_switch(arg) => one != "false",
        [one] if is_count(arg) => one != "0",
        _ => true,
    }
}

/// Whether clap refuses `a` and `b` together, whichever of them declares it.
pub(super) fn conflict(serve: &clap::Command, a: &Arg, b: &Arg) -> bool {
    let declared = |x: &Arg, y: &Arg| {
        serve
            .get_arg_conflicts_with(x)
            .iter()
            .any(|c| c.get_id() == y.get_id())
    };
    declared(a, b) || declared(b, a)
}

/// Two settings among `values` (by long name) that are both on and whose flags clap
/// refuses together (`once` and `max-frames`), if there are any: clap leaves defaults,
/// which is what a file's and the variables' values become, out of its conflict checks.
pub(super) fn conflicting<'a>(
    serve: &'a clap::Command,
    values: &BTreeMap<String, Vec<String>>,
) -> Option<(&'a Arg, &'a Arg)> {
    let on = |arg: &&Arg| {
        let long = arg.get_long().unwrap_or_default();
        values.get(long).is_some_and(|values| is_on(arg, values))
    };
    settings(serve).filter(on).find_map(|arg| {
        settings(serve)
            .filter(on)
            .find(|other| conflict(serve, arg, other))
            .map(|other| (arg, other))
    })
}

/// Takes out of `values` the settings any of `over` conflicts with: what a higher source
/// (a flag over the variables and the file, a variable over the file) sets wins over a
/// lower one's setting it cannot be combined with (`--max-frames 3` over `once = true`).
pub(super) fn drop_overridden<'a>(
    serve: &clap::Command,
    values: &mut BTreeMap<String, Vec<String>>,
    over: impl IntoIterator<Item = &'a Arg>,
) {
    for higher in over {
        values.retain(|key, _| {
            !settings(serve)
                .find(|arg| arg.get_long() == Some(key.as_str()))
                .is_some_and(|lower| conflict(serve, higher, lower))
        });
    }
}
