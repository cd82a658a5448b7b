//! The string layer: Java `.properties` text into `(key, value)` pairs, and the value
//! parsers every config's `set` shares (booleans, integers with ranges, milliseconds).

use std::time::Duration;

use super::{ConfigError, MAX_DURATION};

/// Splits a Java `.properties` text into `(key, value)` pairs, in order.
///
/// Follows `java.util.Properties::load`: `key=value`, `key: value` and `key value` lines;
/// `#` and `!` comment lines; blank lines; a line ending in `\` continues on the next;
/// `\t`, `\n`, `\uXXXX` and `\=` style escapes. Keys and values are trimmed. A key given
/// twice appears twice; applying the pairs in order lets the last one win, as in Java.
///
/// # Examples
/// ```
/// use kafka_sync::config::parse_properties;
/// let pairs = parse_properties("# comment\n\nbootstrap.servers = h1:9092,\\\n    h2:9092\nacks: all\n");
/// assert_eq!(
///     pairs,
///     vec![
///         ("bootstrap.servers".to_string(), "h1:9092,h2:9092".to_string()),
///         ("acks".to_string(), "all".to_string()),
///     ]
/// );
/// ```
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut logical = String::new();
    let mut continuing = false;
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '\t', '\x0c']);
        if !continuing && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        let trailing_backslashes = line.chars().rev().take_while(|&c| c == '\\').count();
        continuing = trailing_backslashes % 2 == 1;
        if continuing {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        pairs.push(split_pair(&logical));
        logical.clear();
    }
    if !logical.is_empty() {
        pairs.push(split_pair(&logical));
    }
    pairs
}

/// Splits one logical line at the first unescaped `=`, `:` or whitespace.
fn split_pair(line: &str) -> (String, String) {
    let mut key_end = line.len();
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c.is_whitespace() {
            key_end = i;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start();
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start();
    }
    (
        unescape(key).trim().to_string(),
        unescape(rest).trim().to_string(),
    )
}

/// Resolves `\t`, `\n`, `\r`, `\f`, `\uXXXX`; any other escaped character is itself.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => {
                        out.push(ch);
                        chars.nth(3);
                    }
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// `true` or `false`, any case.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::invalid(key, value, "expected true or false"))
    }
}

/// An integer in `min..=max`.
pub(crate) fn parse_int(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n: i64 = value.parse().map_err(|_| {
        let what = if is_integer(value) {
            "out of range"
        } else {
            "not a whole number"
        };
        ConfigError::invalid(
            key,
            value,
            format!("{what}; expected an integer from {min} to {max}"),
        )
    })?;
    if n < min {
        return Err(ConfigError::invalid(
            key,
            value,
            format!("must be at least {min}"),
        ));
    }
    if n > max {
        return Err(ConfigError::invalid(
            key,
            value,
            format!("must be at most {max}"),
        ));
    }
    Ok(n)
}

/// Digits with an optional sign: a whole number, whatever its size.
fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A size in bytes from 1 to `i32::MAX`, the protocol's limit.
pub(crate) fn parse_size(key: &str, value: &str) -> Result<usize, ConfigError> {
    Ok(parse_int(key, value, 1, i32::MAX.into())? as usize)
}

/// A number of milliseconds, at least 0, capped at [`MAX_DURATION`] (however many digits:
/// a setter given `Duration::MAX` passes more than a `u64` holds).
pub(crate) fn parse_ms(key: &str, value: &str) -> Result<Duration, ConfigError> {
    if is_integer(value) && !value.starts_with('-') && value.parse::<u64>().is_err() {
        return Ok(MAX_DURATION);
    }
    let ms = value.parse::<u64>().map_err(|_| {
        let reason = if value.starts_with('-') && is_integer(value) {
            "must not be negative"
        } else {
            "expected a whole number of milliseconds"
        };
        ConfigError::invalid(key, value, reason)
    })?;
    Ok(Duration::from_millis(ms).min(MAX_DURATION))
}

/// A duration that must not be zero.
pub(crate) fn check_positive(key: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::invalid(key, "0", "must be more than 0 ms"));
    }
    Ok(())
}

/// Caps a duration set directly on a field at [`MAX_DURATION`].
pub(crate) fn cap(d: &mut Duration) {
    *d = (*d).min(MAX_DURATION);
}

/// The milliseconds of a duration, for messages.
pub(crate) fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn separators_comments_and_whitespace() {
        let text = "# a comment\n! another\n\n   \n  linger.ms=10\nacks : all\nclient.id  kafka \n\tgroup.id=g=1\nempty=\nbare\n";
        assert_eq!(
            parse_properties(text),
            pairs(&[
                ("linger.ms", "10"),
                ("acks", "all"),
                ("client.id", "kafka"),
                ("group.id", "g=1"),
                ("empty", ""),
                ("bare", ""),
            ])
        );
    }

    #[test]
    fn crlf_and_continuations() {
        let text = "a=1\r\nb=x,\\\r\n   y\r\n# c=\\\nd=2\ne=ends\\\\\nf=3";
        assert_eq!(
            parse_properties(text),
            pairs(&[
                ("a", "1"),
                ("b", "x,y"),
                ("d", "2"),
                ("e", "ends\\"),
                ("f", "3")
            ])
        );
        // A continuation at the end of the text still yields the pair.
        assert_eq!(parse_properties("a=1\\"), pairs(&[("a", "1")]));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            parse_properties(r"my\=key=va\tl\u0041 \x"),
            pairs(&[("my=key", "va\tlA x")])
        );
        assert_eq!(parse_properties(r"k=\u00"), pairs(&[("k", "u00")]));
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("k", "TRUE"), Ok(true));
        assert_eq!(parse_bool("k", "false"), Ok(false));
        assert!(parse_bool("k", "yes").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("k", "5", 0, 10), Ok(5));
        let e = parse_int("k", "abc", 0, 10).unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid(
                "k",
                "abc",
                "not a whole number; expected an integer from 0 to 10"
            )
        );
        assert_eq!(
            parse_int("k", "-1", 0, 10),
            Err(ConfigError::invalid("k", "-1", "must be at least 0"))
        );
        assert_eq!(
            parse_int("k", "11", 0, 10),
            Err(ConfigError::invalid("k", "11", "must be at most 10"))
        );
        assert!(parse_int("k", "99999999999999999999", 0, 10)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(parse_int("k", "", 0, 10)
            .unwrap_err()
            .to_string()
            .contains("not a whole number"));
        assert_eq!(parse_size("k", "16384"), Ok(16384));
        assert!(parse_size("k", "0").is_err());
        assert!(parse_size("k", "-5").is_err());
    }

    #[test]
    fn milliseconds() {
        assert_eq!(parse_ms("k", "250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_ms("k", "0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_ms("k", "-1"),
            Err(ConfigError::invalid("k", "-1", "must not be negative"))
        );
        assert_eq!(
            parse_ms("k", "1.5"),
            Err(ConfigError::invalid(
                "k",
                "1.5",
                "expected a whole number of milliseconds"
            ))
        );
        assert_eq!(
            parse_ms("k", "-"),
            Err(ConfigError::invalid(
                "k",
                "-",
                "expected a whole number of milliseconds"
            ))
        );
        // Java's Long.MAX_VALUE for "forever" is capped.
        assert_eq!(parse_ms("k", "9223372036854775807"), Ok(MAX_DURATION));
        let duration_max_ms = Duration::MAX.as_millis().to_string();
        assert_eq!(parse_ms("k", &duration_max_ms), Ok(MAX_DURATION));
        assert!(parse_ms("k", "-99999999999999999999999").is_err());
        let mut d = Duration::MAX;
        cap(&mut d);
        assert_eq!(d, MAX_DURATION);
        assert!(check_positive("k", Duration::ZERO).is_err());
        assert_eq!(ms(Duration::from_secs(1)), 1000);
    }
}
