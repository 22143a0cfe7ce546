//! Parsing what people type on a command line: durations (`30s`, `500ms`, `off`), sizes
//! (`64KiB`, `1MB`, `4096`) and byte strings with escapes (`'\r\n'`, `'\x00'`).

use std::time::Duration;

/// Parses a duration: a whole number followed by `ms`, `s`, `m` or `h` (`500ms`, `30s`,
/// `2m`). A unit is required, so `30` is not silently seconds or milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m or h (e.g. 30s, 500ms)"))?;
    let (digits, unit) = text.split_at(split);
    let value = parse_whole(digits).map_err(|overflow| match overflow {
        true => format!("{text:?} is too long"),
        false => format!("{text:?} is not a duration (e.g. 30s, 500ms)"),
    })?;
    let ms_per_unit = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s, m or h)"
            ))
        }
    };
    value
        .checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// A whole number of ASCII digits; `Err(true)` when it is one but does not fit a `u64`,
/// so that "too long" is said of every value that is too long, not only of those that
/// overflow once multiplied by their unit.
fn parse_whole(digits: &str) -> Result<u64, bool> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    digits.parse().map_err(|_| true)
}

/// A duration that may be `off` (a newtype, so clap treats it as one value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaybeDuration(pub Option<Duration>);

/// Parses an optional duration: `off` or `none` turn a timer off.
pub fn parse_optional_duration(text: &str) -> Result<MaybeDuration, String> {
    match text.trim() {
        "off" | "none" => Ok(MaybeDuration(None)),
        other => parse_duration(other).map(|d| MaybeDuration(Some(d))),
    }
}

/// Parses a size in bytes: a whole number with an optional unit, case-insensitive:
/// `B`; `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of 1024); `KB`, `MB`, `GB` (powers of
/// 1000).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value = parse_whole(digits).map_err(|overflow| match overflow {
        true => format!("{text:?} is too large"),
        false => format!("{text:?} is not a size (e.g. 4096, 64KiB, 1MiB)"),
    })?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    value
        .checked_mul(multiplier)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a rate in bytes per second: a size with an optional `/s` (`64KiB/s`, `1MB/s`,
/// `1000`).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let size = text.strip_suffix("/s").unwrap_or(text);
    let bytes =
        parse_size(size).map_err(|e| format!("{e} (a rate is bytes per second: 64KiB/s)"))?;
    if bytes == 0 {
        return Err(format!(
            "{text:?}: a rate must be at least 1 byte per second"
        ));
    }
    Ok(bytes as u64)
}

/// Parses a range of sizes `MIN..MAX` (`4..64`, `1KiB..16KiB`), or one size `N` for
/// `N..N`.
pub fn parse_range(text: &str) -> Result<(usize, usize), String> {
    let text = text.trim();
    let (min, max) = match text.split_once("..") {
        Some((min, max)) => (parse_size(min)?, parse_size(max)?),
        None => {
            let n = parse_size(text)?;
            (n, n)
        }
    };
    if min == 0 || min > max {
        return Err(format!(
            "{text:?}: a range is MIN..MAX with 1 <= MIN <= MAX (e.g. 4..64)"
        ));
    }
    Ok((min, max))
}

/// Parses a probability: a number in (0, 1] (`0.01`, `1e-3`) or a percentage (`1%`).
pub fn parse_probability(text: &str) -> Result<reverb_core::Probability, String> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix('%') {
        Some(percent) => (percent, 100.0),
        None => (text, 1.0),
    };
    let p: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a probability (e.g. 0.01 or 1%)"))?;
    reverb_core::Probability::new(p / scale).map_err(|e| e.to_string())
}

/// A byte string from the command line (a newtype, so clap treats it as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

/// [`parse_escaped`] for clap.
pub fn parse_bytes(text: &str) -> Result<Bytes, String> {
    parse_escaped(text).map(Bytes)
}

/// Parses a byte string with backslash escapes: `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH`.
/// Everything else is taken as it is (UTF-8).
pub fn parse_escaped(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = match bytes.next() {
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(b'\\') => b'\\',
            Some(b'x') => {
                // Two hex digits exactly: `from_str_radix` alone would take "+1" as 1.
                let digit = |b: Option<u8>| b.and_then(|b| char::from(b).to_digit(16));
                let (Some(hi), Some(lo)) = (digit(bytes.next()), digit(bytes.next())) else {
                    return Err(format!("{text:?}: \\x needs two hex digits"));
                };
                (hi * 16 + lo) as u8
            }
            Some(other) => {
                return Err(format!(
                    "{text:?}: unknown escape \\{} (use \\n \\r \\t \\0 \\\\ \\xHH)",
                    other as char
                ))
            }
            None => return Err(format!("{text:?} ends with a lone backslash")),
        };
        out.push(escaped);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
        assert_eq!(parse_optional_duration("off"), Ok(MaybeDuration(None)));
        assert!(parse_duration("+5s").is_err(), "a sign is not a digit");
    }

    #[test]
    fn every_value_too_long_is_called_too_long() {
        // Overflows once multiplied by its unit…
        let by_unit = parse_duration("9999999999999999999s").unwrap_err();
        // …and overflows u64 on its own: the same message, not "not a duration".
        let by_digits = parse_duration("99999999999999999999s").unwrap_err();
        assert!(by_unit.ends_with("is too long"), "{by_unit}");
        assert!(by_digits.ends_with("is too long"), "{by_digits}");
        let size = parse_size("99999999999999999999").unwrap_err();
        assert!(size.ends_with("is too large"), "{size}");
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("64k"), Ok(65_536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("2 B"), Ok(2));
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn escapes_cover_line_breaks_and_any_byte() {
        assert_eq!(parse_escaped("Buffer: "), Ok(b"Buffer: ".to_vec()));
        assert_eq!(parse_escaped(r"a\r\n\t\0\\"), Ok(b"a\r\n\t\0\\".to_vec()));
        assert_eq!(parse_escaped(r"\xff\x00"), Ok(vec![0xff, 0]));
        assert!(parse_escaped(r"\q").is_err());
        assert!(parse_escaped(r"\x4").is_err());
        assert!(parse_escaped(r"\x+1").is_err(), "a sign is not a hex digit");
        assert!(parse_escaped(r"\x-1").is_err());
        assert!(parse_escaped(r"\x 1").is_err());
        assert_eq!(parse_escaped(r"\xAb"), Ok(vec![0xab]));
        assert!(parse_escaped("x\\").is_err());
    }
}
