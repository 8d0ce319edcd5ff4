//! Timeouts as the config compiler renders them for Envoy and the filter enforces
//! them: LiteLLM's seconds as whole milliseconds, one rounding for both.

/// Seconds (LiteLLM's unit, maybe fractional) as whole milliseconds, at least 1;
/// `None` for anything that is not a positive finite number.
pub fn millis(seconds: f64) -> Option<u64> {
    if seconds.is_finite() && seconds > 0.0 {
        // Saturates at u64::MAX for absurd values (as float casts do).
        Some(((seconds * 1000.0).round() as u64).max(1))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_milliseconds() {
        assert_eq!(millis(2.0), Some(2_000));
        assert_eq!(millis(0.0004), Some(1));
        assert_eq!(millis(1.5), Some(1_500));
        assert_eq!(millis(0.0), None);
        assert_eq!(millis(-1.0), None);
        assert_eq!(millis(f64::NAN), None);
        assert_eq!(millis(f64::INFINITY), None);
    }
}
