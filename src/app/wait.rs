//! Waiting for a change (`Prefer: wait`): the preference, the wait's one budget, the re-read schedule.
//!
//! The routes decide what "nothing new" means; this module only knows time: how long a request
//! may be held (docs/API.md#waiting-for-a-change-prefer-wait), when to read again, and what
//! `Preference-Applied` says afterwards.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The answer must leave this long before the Lambda deadline and API Gateway's limit.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);
/// API Gateway gives up on an integration this long after it received the request (HTTP API:
/// 30 s, not adjustable; 29 s is the REST API's default and the safe figure for both).
pub const GATEWAY_LIMIT: Duration = Duration::from_secs(29);
/// Failed re-reads double the interval up to this many times the configured one.
const MAX_BACKOFF_FACTOR: u32 = 16;

/// The seconds of the first `wait` preference in the request's `Prefer` headers (RFC 7240).
///
/// Several headers and comma-separated lists are one list; names are case-insensitive;
/// parameters after `;` are ignored. Only the first `wait` counts (RFC 7240 §2: later ones are
/// ignored); when that one is not a whole number of seconds (negative, fractional, empty), there is
/// no wait preference at all. Absurdly large values saturate: the budget caps them anyway.
pub fn requested_wait<'a>(prefer_headers: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    prefer_headers
        .into_iter()
        .flat_map(|header| split_outside_quotes(header, b','))
        .find_map(|preference| {
            let preference = split_outside_quotes(preference, b';').next().unwrap_or("");
            let (name, value) = match preference.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim())),
                None => (preference.trim(), None),
            };
            name.eq_ignore_ascii_case("wait")
                .then(|| value.map(unquote).and_then(delta_seconds))
        })
        .flatten()
}

/// Splits at `separator` bytes that are not inside a quoted string (quoted pairs respected).
fn split_outside_quotes(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (at, byte) in text.bytes().enumerate() {
            match byte {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if byte == separator && !quoted => {
                    rest = Some(&text[at + 1..]);
                    return Some(&text[..at]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

fn unquote(word: &str) -> &str {
    word.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(word)
}

/// `1*DIGIT`, saturating; anything else (a sign, a point, nothing) is not a delta-seconds.
fn delta_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |seconds, digit| {
        seconds
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

/// Everything that bounds one request's wait, taken at one moment (`now_ms`, the wall clock, and
/// the monotonic durations, all measured then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The `wait` preference's seconds.
    pub requested_seconds: u64,
    /// `WAIT_MAX_SECONDS` (zero: waiting is off).
    pub max: Duration,
    /// How long the request has already taken (the wait counts from its arrival, RFC 7240 §4.3).
    pub since_arrival: Duration,
    /// Time left before the Lambda deadline; `None` when the invocation has none.
    pub lambda_left: Option<Duration>,
    /// The wall clock now, epoch milliseconds.
    pub now_ms: u64,
    /// When API Gateway received the request (`timeEpoch` / `requestTimeEpoch`), epoch ms.
    pub request_time_ms: Option<u64>,
    /// The first epoch millisecond at which the credentials no longer hold.
    pub credentials_end_ms: Option<u64>,
}

/// How a wait ends when nothing changes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The wait ran out (asked-for time, `WAIT_MAX_SECONDS`, the deadlines): the same 304/202.
    Timeout,
    /// The credentials expire first: the answer is the 401 they get then.
    CredentialsExpire,
}

/// The one budget of a request's wait: how long it may still be held, and how that ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub hold: Duration,
    pub end: End,
}

impl Limits {
    /// One `min()` over every limit; `None` when there is no time to hold the request at all.
    pub fn budget(&self) -> Option<Budget> {
        let requested = Duration::from_secs(self.requested_seconds).min(self.max);
        let wall_left = |until_ms: u64| Duration::from_millis(until_ms.saturating_sub(self.now_ms));
        let gateway_end_ms = self.request_time_ms.map(|received| {
            received.saturating_add(millis(GATEWAY_LIMIT.saturating_sub(ANSWER_MARGIN)))
        });
        let timeout = [
            Some(requested.saturating_sub(self.since_arrival)),
            self.lambda_left
                .map(|left| left.saturating_sub(ANSWER_MARGIN)),
            gateway_end_ms.map(wall_left),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Duration::ZERO);
        let budget = match self.credentials_end_ms.map(wall_left) {
            Some(credentials) if credentials <= timeout => Budget {
                hold: credentials,
                end: End::CredentialsExpire,
            },
            _ => Budget {
                hold: timeout,
                end: End::Timeout,
            },
        };
        (!budget.hold.is_zero()).then_some(budget)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `Preference-Applied` of a held answer: the seconds it was held, rounded up.
pub fn preference_applied(waited: Duration) -> String {
    let seconds = waited.as_secs() + u64::from(waited.subsec_nanos() > 0);
    format!("wait={seconds}")
}

/// A request being held: when it ends, when the next read is due, and what it has done so far.
#[derive(Debug)]
pub struct Hold {
    started: Instant,
    until: Instant,
    end: End,
    base_interval: Duration,
    interval: Duration,
    next_read: Instant,
    reads: u32,
    failed_reads: u32,
}

/// What the route learnt from one re-read.
#[derive(Debug)]
pub enum Reread<T> {
    /// The read answered; the route decides whether that is news.
    Answered(T),
    /// The read failed (throttled, slow, unreachable): skipped, the interval doubles.
    Failed,
    /// The wait ended while the read was in flight: the read is dropped.
    Over,
}

impl Hold {
    /// Starts holding now, for `budget`, reading again every `interval`.
    pub fn start(budget: Budget, interval: Duration) -> Self {
        let started = Instant::now();
        Hold {
            started,
            until: started + budget.hold,
            end: budget.end,
            base_interval: interval,
            interval,
            next_read: started + interval,
            reads: 0,
            failed_reads: 0,
        }
    }

    /// Sleeps until the next read is due: `true`, or `false` once the wait is over (at its end).
    pub async fn next_read(&mut self) -> bool {
        if self.next_read >= self.until {
            tokio::time::sleep_until(self.until).await;
            return false;
        }
        tokio::time::sleep_until(self.next_read).await;
        true
    }

    /// One re-read, cut off at the wait's end; `failed` tells a failed read from an answer.
    /// The next read is due one interval after this one started (doubled after a failure,
    /// back to the configured one after an answer).
    pub async fn reread<T, E>(
        &mut self,
        read: impl Future<Output = Result<T, E>>,
        failed: impl FnOnce(&E) -> bool,
    ) -> Result<Reread<T>, E> {
        let started = Instant::now();
        self.reads += 1;
        let Ok(result) = tokio::time::timeout_at(self.until, read).await else {
            return Ok(Reread::Over);
        };
        match result {
            Err(error) if failed(&error) => {
                self.failed_reads += 1;
                self.next_read = started + self.interval;
                self.interval = (self.interval * 2).min(self.base_interval * MAX_BACKOFF_FACTOR);
                Ok(Reread::Failed)
            }
            Err(error) => Err(error),
            Ok(answer) => {
                self.interval = self.base_interval;
                self.next_read = started + self.interval;
                Ok(Reread::Answered(answer))
            }
        }
    }

    /// How the wait ends if nothing changes before.
    pub fn end(&self) -> End {
        self.end
    }

    /// How long the request has been held so far.
    ///
    /// Counted up to the end of the hold at most: a timer wakes a little after its deadline
    /// (by up to a millisecond idle, more on a busy machine), and that lateness would turn a
    /// full `wait=2` into `Preference-Applied: wait=3`, more than the client asked for.
    pub fn waited(&self) -> Duration {
        Instant::now().min(self.until) - self.started
    }

    /// Re-reads made (the first read of the request not included), failed ones included.
    pub fn reads(&self) -> u32 {
        self.reads
    }

    pub fn failed_reads(&self) -> u32 {
        self.failed_reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_800_000_000_000;

    fn limits(requested_seconds: u64) -> Limits {
        Limits {
            requested_seconds,
            max: Duration::from_secs(20),
            since_arrival: Duration::ZERO,
            lambda_left: None,
            now_ms: NOW_MS,
            request_time_ms: None,
            credentials_end_ms: None,
        }
    }

    fn timeout(ms: u64) -> Option<Budget> {
        Some(Budget {
            hold: Duration::from_millis(ms),
            end: End::Timeout,
        })
    }

    #[test]
    fn the_wait_preference_is_found_in_lists_and_headers() {
        for (headers, wait) in [
            (&["wait=10"][..], Some(10)),
            (&["WAIT=10"], Some(10)),
            (&["Wait = 7"], Some(7)),
            (&["respond-async, wait=5"], Some(5)),
            (&["return=minimal", "respond-async, wait=3"], Some(3)),
            (&["wait=5; foo=bar"], Some(5)),
            (&["wait=\"12\""], Some(12)),
            (&[",, wait=2 ,"], Some(2)),
            (&["foo=\"a, wait=9\", wait=4"], Some(4)),
            (&["foo=\"a \\\" wait=9\", wait=4"], Some(4)),
            (&["wait=0"], Some(0)),
            (&["wait=99999999999999999999999"], Some(u64::MAX)),
            // Only the first `wait` counts, even when it is unusable.
            (&["wait=5, wait=9"], Some(5)),
            (&["wait=-1", "wait=9"], None),
        ] {
            assert_eq!(requested_wait(headers.iter().copied()), wait, "{headers:?}");
        }
    }

    #[test]
    fn unparseable_negative_and_other_preferences_are_ignored() {
        for headers in [
            &[][..],
            &[""],
            &["wait"],
            &["wait="],
            &["wait=-5"],
            &["wait=1.5"],
            &["wait=+3"],
            &["wait=ten"],
            &["wait=5s"],
            &["respond-async"],
            &["waiting=5"],
            &["return=wait=5"],
            &["foo; wait=5"],
            &["\"wait=5\""],
        ] {
            assert_eq!(requested_wait(headers.iter().copied()), None, "{headers:?}");
        }
    }

    #[test]
    fn the_budget_is_the_requested_time_capped_by_wait_max() {
        assert_eq!(limits(10).budget(), timeout(10_000));
        assert_eq!(limits(300).budget(), timeout(20_000));
        assert_eq!(limits(u64::MAX).budget(), timeout(20_000));
        assert_eq!(limits(0).budget(), None);
        let off = Limits {
            max: Duration::ZERO,
            ..limits(10)
        };
        assert_eq!(off.budget(), None, "WAIT_MAX_SECONDS=0 turns waiting off");
    }

    #[test]
    fn the_wait_counts_from_the_requests_arrival() {
        let late = Limits {
            since_arrival: Duration::from_millis(1_250),
            ..limits(10)
        };
        assert_eq!(late.budget(), timeout(8_750));
        let spent = Limits {
            since_arrival: Duration::from_secs(11),
            ..limits(10)
        };
        assert_eq!(spent.budget(), None);
    }

    #[test]
    fn the_answer_leaves_a_second_before_the_lambda_deadline() {
        let near = Limits {
            lambda_left: Some(Duration::from_millis(4_500)),
            ..limits(20)
        };
        assert_eq!(near.budget(), timeout(3_500));
        let too_near = Limits {
            lambda_left: Some(Duration::from_millis(900)),
            ..limits(20)
        };
        assert_eq!(too_near.budget(), None);
    }

    #[test]
    fn api_gateways_own_limit_counts_from_its_request_time() {
        // A cold start of 12 s already used: 29 s - 1 s - 12 s are left.
        let cold = Limits {
            request_time_ms: Some(NOW_MS - 12_000),
            ..limits(20)
        };
        assert_eq!(cold.budget(), timeout(16_000));
        let gone = Limits {
            request_time_ms: Some(NOW_MS - 40_000),
            ..limits(20)
        };
        assert_eq!(gone.budget(), None);
        // A clock ahead of ours only leaves the other limits.
        let ahead = Limits {
            request_time_ms: Some(NOW_MS + 5_000),
            ..limits(20)
        };
        assert_eq!(ahead.budget(), timeout(20_000));
    }

    #[test]
    fn credentials_that_expire_first_end_the_wait_with_their_401() {
        let expiring = Limits {
            credentials_end_ms: Some(NOW_MS + 3_000),
            ..limits(20)
        };
        assert_eq!(
            expiring.budget(),
            Some(Budget {
                hold: Duration::from_secs(3),
                end: End::CredentialsExpire
            })
        );
        let later = Limits {
            credentials_end_ms: Some(NOW_MS + 60_000),
            ..limits(20)
        };
        assert_eq!(later.budget(), timeout(20_000));
        let expired = Limits {
            credentials_end_ms: Some(NOW_MS - 1),
            ..limits(20)
        };
        assert_eq!(expired.budget(), None);
    }

    #[test]
    fn the_earliest_limit_wins() {
        let all = Limits {
            requested_seconds: 25,
            max: Duration::from_secs(25),
            since_arrival: Duration::from_millis(100),
            lambda_left: Some(Duration::from_millis(9_000)),
            now_ms: NOW_MS,
            request_time_ms: Some(NOW_MS - 21_000),
            credentials_end_ms: Some(NOW_MS + 30_000),
        };
        assert_eq!(all.budget(), timeout(7_000), "API Gateway's limit");
        let lambda = Limits {
            request_time_ms: Some(NOW_MS),
            ..all
        };
        assert_eq!(lambda.budget(), timeout(8_000), "the Lambda deadline");
    }

    #[test]
    fn preference_applied_rounds_up() {
        assert_eq!(preference_applied(Duration::from_millis(1)), "wait=1");
        assert_eq!(preference_applied(Duration::from_millis(1_000)), "wait=1");
        assert_eq!(preference_applied(Duration::from_millis(1_001)), "wait=2");
        assert_eq!(preference_applied(Duration::from_millis(19_999)), "wait=20");
    }

    fn budget(ms: u64) -> Budget {
        Budget {
            hold: Duration::from_millis(ms),
            end: End::Timeout,
        }
    }

    /// Reads until the first `Ok(true)` ("something new") or the end; returns when each read
    /// started, relative to the start, and whether something new was found.
    async fn run(hold: &mut Hold, mut reads: Vec<Result<bool, ()>>) -> (Vec<u64>, bool) {
        let start = Instant::now();
        let mut at = Vec::new();
        while hold.next_read().await {
            at.push(start.elapsed().as_millis() as u64);
            let next = if reads.is_empty() {
                Ok(false)
            } else {
                reads.remove(0)
            };
            match hold.reread(async { next }, |_| true).await {
                Ok(Reread::Answered(true)) => return (at, true),
                Ok(Reread::Over) => break,
                _ => {}
            }
        }
        (at, false)
    }

    #[tokio::test(start_paused = true)]
    async fn reads_every_interval_until_the_end() {
        let started = Instant::now();
        let mut hold = Hold::start(budget(2_200), Duration::from_millis(500));
        let (at, news) = run(&mut hold, vec![]).await;
        assert!(!news);
        assert_eq!(at, [500, 1000, 1500, 2000]);
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(2_200),
            "ends at the budget"
        );
        assert_eq!(hold.reads(), 4);
        assert_eq!(hold.waited(), Duration::from_millis(2_200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_timer_does_not_count_as_waiting() {
        let hold = Hold::start(budget(2_000), Duration::from_millis(500));
        tokio::time::advance(Duration::from_micros(2_000_225)).await;
        assert_eq!(hold.waited(), Duration::from_millis(2_000));
        assert_eq!(preference_applied(hold.waited()), "wait=2");
    }

    #[tokio::test(start_paused = true)]
    async fn answers_at_the_first_read_with_news() {
        let mut hold = Hold::start(budget(10_000), Duration::from_millis(500));
        let (at, news) = run(&mut hold, vec![Ok(false), Ok(false), Ok(true)]).await;
        assert!(news);
        assert_eq!(at, [500, 1000, 1500]);
        assert_eq!(hold.waited(), Duration::from_millis(1_500));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_reads_double_the_interval_and_an_answer_resets_it() {
        let mut hold = Hold::start(budget(10_000), Duration::from_millis(500));
        let reads = vec![Err(()), Err(()), Err(()), Ok(false), Ok(false)];
        let (at, _) = run(&mut hold, reads).await;
        // Failed at 500, 1000 and 2000 (each gap twice the one before), answered at 4000: the
        // interval is back to 500.
        assert_eq!(at[..6], [500, 1000, 2000, 4000, 4500, 5000]);
        assert_eq!(hold.failed_reads(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_backoff_is_bounded() {
        let mut hold = Hold::start(budget(60_000), Duration::from_millis(100));
        let (at, _) = run(&mut hold, vec![Err(()); 20]).await;
        let gaps: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[..5], [100, 200, 400, 800, 1600]);
        assert!(gaps.iter().all(|&gap| gap <= 1600), "{gaps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_in_flight_at_the_end_is_cut_off() {
        let started = Instant::now();
        let mut hold = Hold::start(budget(1_200), Duration::from_millis(1_000));
        assert!(hold.next_read().await);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, ()>(true)
        };
        assert!(matches!(
            hold.reread(slow, |_| true).await,
            Ok(Reread::Over)
        ));
        assert_eq!(started.elapsed(), Duration::from_millis(1_200));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_that_are_answers_are_given_back() {
        let mut hold = Hold::start(budget(5_000), Duration::from_millis(500));
        assert!(hold.next_read().await);
        let gone = async { Err::<bool, &str>("not found") };
        let answer = hold.reread(gone, |error| *error == "unavailable").await;
        assert_eq!(answer.unwrap_err(), "not found");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_read_makes_the_next_one_due_at_once() {
        let mut hold = Hold::start(budget(5_000), Duration::from_millis(500));
        assert!(hold.next_read().await);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            Ok::<_, ()>(false)
        };
        let before = Instant::now();
        hold.reread(slow, |_| true).await.unwrap();
        assert!(hold.next_read().await);
        assert_eq!(
            before.elapsed(),
            Duration::from_millis(700),
            "no extra sleep"
        );
    }
}
