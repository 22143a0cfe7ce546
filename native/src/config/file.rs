//! The `--config` file: TOML read into a table, each key checked against the flags and
//! each value against its flag's own parser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::flags::{check_value, conflicting, is_list, is_switch, settings, NOT_IN_FILE, SERVE};
use super::SettingsError;

/// A config file: each key a long flag name, each value as the flag would take it.
#[derive(Debug, Clone)]
pub(super) struct ConfigFile {
    /// Where it was read from, for every message about it.
    pub(super) path: PathBuf,
    /// The values, as text, by key; a list for a repeatable flag.
    pub(super) values: BTreeMap<String, Vec<String>>,
    /// The keys as written, to check against the flags once they are known.
    pub(super) table: toml::Table,
}

impl ConfigFile {
    /// Reads and parses the file; what its keys and values mean is checked by `check`,
    /// once the flags are known.
    pub(super) fn read(path: &Path) -> Result<ConfigFile, SettingsError> {
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
        let mut values = BTreeMap::new();
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
    pub(super) fn check(&self, serve: &clap::Command) -> Result<(), SettingsError> {
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
        self.check_conflicts(serve)
    }
}

impl ConfigFile {
    /// Two settings the flags would refuse together (`once` and `max-frames`) are refused
    /// here too. A switch set to `false` and a count of 0 are off, and conflict with
    /// nothing (`--print-config` writes them all).
    fn check_conflicts(&self, serve: &clap::Command) -> Result<(), SettingsError> {
        match conflicting(serve, &self.values) {
            Some((arg, other)) => Err(self.fail(format!(
                "{} and {} cannot both be set, as --{0} and --{1} cannot be given together",
                arg.get_long().unwrap_or_default(),
                other.get_long().unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }
}

/// A TOML scalar as the text a flag would be given; `None` for a table, a list or a date.
pub(super) fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// "unknown key", with clap's suggestion of the closest flag when it has one.
pub(super) fn unknown_key(serve: &clap::Command, key: &str) -> String {
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
