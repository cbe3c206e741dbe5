//! Wall-clock times as Unix milliseconds, the unit due times and schedule scores use.

use time::OffsetDateTime;

/// `t` as Unix milliseconds.
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_since_the_epoch() {
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(1_234)), 1_234);
        assert!(now_ms() > 1_700_000_000_000);
    }
}
