//! Quantities people write in flags and config files: sizes (`20MB`, `1.5GiB`, plain bytes) and ratios (`0.9`,
//! `90%`). The bottom floor: it imports nothing else of layerscope, so every module may use it.

/// Parses a size: plain bytes (`1048576`), decimal (`20MB`, `1.5 GB`) or binary (`1.5GiB`) units.
pub fn parse_size(text: &str) -> Result<u64, String> {
    parse_size::Config::new()
        .with_decimal()
        .parse_size(text.trim())
        .map_err(|e| format!("{text:?} is not a size ({e}); use e.g. 20MB, 1.5GiB or plain bytes"))
}

/// Parses a non-negative ratio, as a number (`0.9`, `1.5`) or a percentage (`90%`, `150%`). Ratios above 1 are
/// meaningful where the measure can exceed 100 % (waste over the user's layers can exceed their size).
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{text:?} is not a ratio; use e.g. 0.9 or 90%"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a ratio of 0 or more"));
    }
    Ok(value)
}

/// Parses a ratio of a part to its whole, which cannot exceed 1 (efficiency, waste over the whole image).
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let value = parse_ratio(text)?;
    if value > 1.0 {
        return Err(format!(
            "{text:?} is above 1 (100 %), which this ratio can never reach"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_decimal_binary_and_plain_bytes() {
        assert_eq!(parse_size("20MB").unwrap(), 20_000_000);
        assert_eq!(parse_size("1.5GiB").unwrap(), 1_610_612_736);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn ratios_accept_fractions_percentages_and_values_above_one() {
        assert_eq!(parse_ratio("0.9").unwrap(), 0.9);
        assert_eq!(parse_ratio("20%").unwrap(), 0.2);
        assert_eq!(parse_ratio("150%").unwrap(), 1.5);
        assert_eq!(parse_ratio("1.5").unwrap(), 1.5);
        assert!(parse_ratio("-0.1").is_err());
        assert!(parse_ratio("inf").is_err());
        assert!(parse_ratio("most").is_err());
    }

    #[test]
    fn fractions_stop_at_one() {
        assert_eq!(parse_fraction("100%").unwrap(), 1.0);
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("150%").is_err());
    }
}
