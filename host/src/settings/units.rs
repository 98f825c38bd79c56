//! Values with units on the command line: durations (`250ms`, `10s`, `2m`), sizes
//! (`512KiB`, `64MiB`) and shares (`10%`).

use std::time::Duration;

/// A duration on the command line: `250ms`, `10s`, `2m`; a bare number is seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_unit(text);
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        _ => return Err(format!("unknown unit {unit:?} (use ms, s or m)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 10s or 2m"))?;
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(|| format!("{text:?} is not a duration from 0 to 24h"))
}

/// A size on the command line: `512KiB`, `64MiB`, `1GiB`; a bare number is bytes.
pub fn size(text: &str) -> Result<usize, String> {
    let (number, unit) = split_unit(text);
    let shift = match unit {
        "" | "B" => 0,
        "KiB" | "K" | "k" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        _ => return Err(format!("unknown unit {unit:?} (use KiB, MiB or GiB)")),
    };
    let value: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 512KiB or 64MiB"))?;
    value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A share on the command line: `10%`, or a fraction like `0.1`.
pub fn percent(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(number) => number.trim().parse::<f64>().map(|v| v / 100.0),
        None => text.parse::<f64>(),
    };
    value
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("{text:?} is not a share like 10% or 0.1"))
}

fn split_unit(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    (&text[..at], text[at..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("10h").is_err() && duration("s").is_err() && duration("-1s").is_err());
        assert_eq!(size("64MiB"), Ok(64 << 20));
        assert_eq!(size("512KiB"), Ok(512 << 10));
        assert_eq!(size("4096"), Ok(4096));
        assert!(size("1.5MiB").is_err() && size("12 apples").is_err());
    }
}
