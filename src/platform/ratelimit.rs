//! Keyed rate limits (GCRA, the `governor` crate): one bucket per API key or user. Used on event intake
//! so one noisy interface cannot starve the others; answers 429 with `Retry-After`.

use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::platform::error::AppError;

pub struct KeyedLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl KeyedLimiter {
    /// `per_minute` requests replenish evenly over a minute; `burst` may arrive at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes `n` cells from `key`'s bucket.
    ///
    /// # Errors
    /// [`AppError::TooManyRequests`] with the seconds until `n` cells are available again.
    pub fn check(&self, key: &str, n: u32) -> Result<(), AppError> {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(&key.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(AppError::TooManyRequests {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
            // More cells than the bucket ever holds: this request can never pass as one.
            Err(_) => Err(AppError::TooManyRequests {
                retry_after_secs: 60,
            }),
        }
    }
}

/// Every rate limiter of the process.
pub struct Limiters {
    pub intake: KeyedLimiter,
    /// The public survey form and its API, per client address.
    pub survey_public: KeyedLimiter,
}

impl Limiters {
    pub fn from_config(c: &Config) -> Self {
        Self {
            intake: KeyedLimiter::new(c.intake_rate_per_minute, c.intake_burst),
            survey_public: KeyedLimiter::new(c.survey_rate_per_minute, c.survey_burst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_burst_and_others_are_not() {
        let l = KeyedLimiter::new(1, 2);
        assert!(l.check("a", 1).is_ok());
        assert!(l.check("a", 1).is_ok());
        match l.check("a", 1) {
            Err(AppError::TooManyRequests { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(l.check("b", 1).is_ok());
        assert!(l.check("c", 5).is_err());
    }
}
