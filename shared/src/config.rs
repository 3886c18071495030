//! Parsing of configuration values shared by the CLI and the functions.

/// A size that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a size: expected a whole number of bytes, optionally with a unit (KiB, MiB, GiB, KB, MB, GB)"
)]
pub struct SizeError {
    /// The text given.
    pub text: String,
}

/// Reads a byte size: `1048576`, `512KiB`, `64 MiB`, `4GiB`, `250MB` (binary units are powers
/// of 1024, decimal ones of 1000; case is ignored).
pub fn parse_bytes(text: &str) -> Result<u64, SizeError> {
    let err = || SizeError {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(err()),
    };
    number.checked_mul(factor).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1048576"), Ok(1_048_576));
        assert_eq!(parse_bytes("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_bytes(" 64 MiB "), Ok(64 << 20));
        assert_eq!(parse_bytes("4g"), Ok(4 << 30));
        assert_eq!(parse_bytes("250MB"), Ok(250_000_000));
        for bad in [
            "",
            "MiB",
            "1.5GiB",
            "-1",
            "12 parsecs",
            "99999999999999999999GiB",
        ] {
            assert_eq!(
                parse_bytes(bad),
                Err(SizeError { text: bad.into() }),
                "{bad}"
            );
        }
    }
}
