//! Timestamps as sent by servers: nanoseconds since the Unix epoch.
//!
//! Text form: RFC 3339 (`2024-01-02T15:04:05.123456789Z`), parsed and
//! formatted by hand because it sits on the decode hot path. Binary form (any
//! non-human-readable serde format, i.e. MessagePack): the MessagePack
//! Timestamp extension, type -1, in its 32, 64 or 96-bit layout.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A point in time with nanosecond precision, as carried by market data.
///
/// Formatting follows Go's `RFC3339Nano` (what many market-data servers emit): always
/// UTC with a `Z`, and the fraction trimmed of trailing zeros (omitted when
/// zero). Parsing accepts 0 to 9 fraction digits (more are truncated), `Z` or
/// a `±hh:mm` offset, and `T`, `t` or a space between date and time.
///
/// ```
/// use tickwire_core::Timestamp;
/// let t: Timestamp = "2024-01-02T15:04:05.123456789Z".parse()?;
/// assert_eq!(t.unix_nanos(), 1_704_207_845_123_456_789);
/// assert_eq!(t.to_string(), "2024-01-02T15:04:05.123456789Z");
/// let shifted: Timestamp = "2024-01-02T16:04:05.5+01:00".parse()?;
/// assert_eq!(shifted.to_string(), "2024-01-02T15:04:05.5Z");
/// # Ok::<(), tickwire_core::InvalidTimestamp>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// A timestamp string that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected RFC 3339, e.g. 2024-01-02T15:04:05.123456789Z")]
pub struct InvalidTimestamp(pub String);

/// The MessagePack extension type of timestamps.
pub const MSGPACK_TIMESTAMP_EXT_TYPE: i8 = -1;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Longest formatted form: `-292277026596-12-04T15:30:07.999999999Z` fits easily.
/// The longest text [`Timestamp::format_bytes`] writes, in bytes.
pub const TIMESTAMP_TEXT_BYTES_MAX: usize = 48;

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self {
        seconds: 0,
        nanos: 0,
    };

    /// A timestamp from seconds and nanoseconds since the epoch; `None` if
    /// `nanos` is not below one billion.
    pub const fn new(seconds: i64, nanos: u32) -> Option<Self> {
        if nanos < NANOS_PER_SECOND as u32 {
            Some(Self { seconds, nanos })
        } else {
            None
        }
    }

    /// A timestamp from nanoseconds since the epoch (covers 1677 to 2262).
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Self {
            seconds: nanos.div_euclid(NANOS_PER_SECOND),
            // In 0..1e9 by construction of rem_euclid.
            nanos: nanos.rem_euclid(NANOS_PER_SECOND) as u32,
        }
    }

    /// Nanoseconds since the epoch (an `i128`: no timestamp overflows it).
    pub const fn unix_nanos(&self) -> i128 {
        self.seconds as i128 * NANOS_PER_SECOND as i128 + self.nanos as i128
    }

    /// This time moved by `nanos` (negative: earlier), saturating at the
    /// ends of [`from_unix_nanos`](Self::from_unix_nanos)'s range.
    ///
    /// ```
    /// use tickwire_core::Timestamp;
    /// let t = Timestamp::from_unix_nanos(1_000);
    /// assert_eq!(t.saturating_add_nanos(-400), Timestamp::from_unix_nanos(600));
    /// assert_eq!(t.saturating_add_nanos(i128::MAX), Timestamp::from_unix_nanos(i64::MAX));
    /// ```
    #[must_use]
    pub fn saturating_add_nanos(self, nanos: i128) -> Self {
        let moved = self.unix_nanos().saturating_add(nanos);
        // In i64's range after the clamp.
        #[allow(clippy::cast_possible_truncation)]
        let moved = moved.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Self::from_unix_nanos(moved)
    }

    /// Parses RFC 3339, e.g. `2024-01-02T15:04:05.123456789Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, InvalidTimestamp> {
        parse(text.as_bytes()).ok_or_else(|| InvalidTimestamp(truncated(text)))
    }

    /// Parses RFC 3339 from bytes, without building an error (decode fast paths).
    #[inline]
    pub fn from_rfc3339_bytes(text: &[u8]) -> Option<Self> {
        parse(text)
    }

    /// Formats as RFC 3339 into `buf`, returning the text (no allocation).
    fn format_into<'b>(&self, buf: &'b mut [u8; TIMESTAMP_TEXT_BYTES_MAX]) -> &'b str {
        // Only ASCII digits and punctuation are written.
        std::str::from_utf8(self.format_bytes(buf)).unwrap_or_default()
    }

    /// The RFC 3339 text as bytes, for writers that append it to a buffer.
    pub fn format_bytes<'b>(&self, buf: &'b mut [u8; TIMESTAMP_TEXT_BYTES_MAX]) -> &'b [u8] {
        let days = self.seconds.div_euclid(86_400);
        let secs_of_day = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut len = 0;
        if (0..=9999).contains(&year) {
            len = put_digits(buf, len, year as u64, 4);
        } else {
            // Outside RFC 3339's range: written as a plain integer, like Go does.
            let mut decimal = itoa::Buffer::new();
            let text = decimal.format(year).as_bytes();
            buf[..text.len()].copy_from_slice(text);
            len = text.len();
        }
        buf[len] = b'-';
        len = put_digits(buf, len + 1, u64::from(month), 2);
        buf[len] = b'-';
        len = put_digits(buf, len + 1, u64::from(day), 2);
        buf[len] = b'T';
        len = put_digits(buf, len + 1, (secs_of_day / 3600) as u64, 2);
        buf[len] = b':';
        len = put_digits(buf, len + 1, (secs_of_day / 60 % 60) as u64, 2);
        buf[len] = b':';
        len = put_digits(buf, len + 1, (secs_of_day % 60) as u64, 2);
        if self.nanos != 0 {
            buf[len] = b'.';
            let start = len + 1;
            len = put_digits(buf, start, u64::from(self.nanos), 9);
            while buf[len - 1] == b'0' {
                len -= 1;
            }
        }
        buf[len] = b'Z';
        len += 1;
        &buf[..len]
    }

    /// Encodes the MessagePack Timestamp extension payload in its smallest
    /// layout (4, 8 or 12 bytes); returns the buffer and the used length.
    pub fn to_msgpack_ext(&self) -> ([u8; 12], usize) {
        let mut out = [0u8; 12];
        if self.seconds >> 34 == 0 {
            let packed = (u64::from(self.nanos) << 34) | self.seconds as u64;
            if packed >> 32 == 0 {
                out[..4].copy_from_slice(&(packed as u32).to_be_bytes());
                (out, 4)
            } else {
                out[..8].copy_from_slice(&packed.to_be_bytes());
                (out, 8)
            }
        } else {
            out[..4].copy_from_slice(&self.nanos.to_be_bytes());
            out[4..].copy_from_slice(&self.seconds.to_be_bytes());
            (out, 12)
        }
    }

    /// Decodes a MessagePack Timestamp extension payload (4, 8 or 12 bytes).
    #[inline]
    pub fn from_msgpack_ext(data: &[u8]) -> Option<Self> {
        match *data {
            [a, b, c, d] => Some(Self {
                seconds: i64::from(u32::from_be_bytes([a, b, c, d])),
                nanos: 0,
            }),
            [a, b, c, d, e, f, g, h] => {
                let packed = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
                Self::new((packed & ((1 << 34) - 1)) as i64, (packed >> 34) as u32)
            }
            [a, b, c, d, ref rest @ ..] if rest.len() == 8 => {
                let mut secs = [0u8; 8];
                secs.copy_from_slice(rest);
                Self::new(i64::from_be_bytes(secs), u32::from_be_bytes([a, b, c, d]))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; TIMESTAMP_TEXT_BYTES_MAX];
        f.write_str(self.format_into(&mut buf))
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self {
                seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanos: after.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => Self {
                        seconds: -secs,
                        nanos: 0,
                    },
                    n => Self {
                        seconds: -secs - 1,
                        nanos: NANOS_PER_SECOND as u32 - n,
                    },
                }
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    /// Saturates at what the platform's `SystemTime` can hold.
    fn from(t: Timestamp) -> Self {
        let nanos = Duration::from_nanos(u64::from(t.nanos));
        if t.seconds >= 0 {
            let secs = Duration::from_secs(t.seconds as u64);
            UNIX_EPOCH
                .checked_add(secs + nanos)
                .unwrap_or(UNIX_EPOCH + Duration::from_secs(u32::MAX as u64))
        } else {
            let secs = Duration::from_secs(t.seconds.unsigned_abs());
            UNIX_EPOCH
                .checked_sub(secs)
                .and_then(|s| s.checked_add(nanos))
                .unwrap_or(UNIX_EPOCH)
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let mut buf = [0u8; TIMESTAMP_TEXT_BYTES_MAX];
            serializer.serialize_str(self.format_into(&mut buf))
        } else {
            let (data, len) = self.to_msgpack_ext();
            serializer.serialize_newtype_struct(
                rmp_serde::MSGPACK_EXT_STRUCT_NAME,
                &(
                    MSGPACK_TIMESTAMP_EXT_TYPE,
                    serde_bytes::Bytes::new(&data[..len]),
                ),
            )
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(TimestampVisitor)
        } else {
            // `any`, not `newtype_struct(_ExtStruct)`: rmp-serde reports an ext
            // as a newtype struct either way, and `any` also lets a string through.
            deserializer.deserialize_any(TimestampVisitor)
        }
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp or a MessagePack timestamp extension")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::parse_rfc3339(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Timestamp, E> {
        match std::str::from_utf8(v) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::invalid_type(de::Unexpected::Bytes(v), &self)),
        }
    }

    /// rmp-serde presents an extension as a newtype holding a
    /// `(type, payload)` pair.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_tuple(2, self)
    }

    /// The `(type, payload)` pair of an extension.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Timestamp, A::Error> {
        let tag: i8 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let payload = seq
            .next_element::<ExtPayload>()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if tag != MSGPACK_TIMESTAMP_EXT_TYPE {
            return Err(de::Error::custom(format_args!(
                "extension type {tag} is not a timestamp (type -1)"
            )));
        }
        Timestamp::from_msgpack_ext(&payload.data[..payload.len])
            .ok_or_else(|| de::Error::invalid_length(payload.len, &self))
    }
}

/// An extension payload copied to the stack (timestamps are at most 12 bytes).
struct ExtPayload {
    data: [u8; 12],
    len: usize,
}

impl<'de> Deserialize<'de> for ExtPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PayloadVisitor;
        impl Visitor<'_> for PayloadVisitor {
            type Value = ExtPayload;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("4, 8 or 12 bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ExtPayload, E> {
                if !matches!(v.len(), 4 | 8 | 12) {
                    return Err(E::invalid_length(v.len(), &self));
                }
                let mut data = [0u8; 12];
                data[..v.len()].copy_from_slice(v);
                Ok(ExtPayload { data, len: v.len() })
            }
        }
        d.deserialize_bytes(PayloadVisitor)
    }
}

// ---------------------------------------------------------------- parsing

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}

#[inline]
fn digit(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    (d < 10).then_some(u32::from(d))
}

#[inline]
fn two_digits(s: &[u8], at: usize) -> Option<u32> {
    Some(digit(*s.get(at)?)? * 10 + digit(*s.get(at + 1)?)?)
}

fn parse(s: &[u8]) -> Option<Timestamp> {
    // YYYY-MM-DDTHH:MM:SS, then at least a `Z`. A fixed-size head lets the
    // fields be read without a bounds check each (this is on the hot path).
    let (head, _) = s.split_first_chunk::<19>()?;
    if s.len() < 20 {
        return None;
    }
    let digit_at = |i: usize| u32::from(head[i].wrapping_sub(b'0'));
    const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if DIGITS.iter().any(|&i| digit_at(i) > 9) {
        return None;
    }
    let pair = |i: usize| digit_at(i) * 10 + digit_at(i + 1);
    let year = pair(0) * 100 + pair(2);
    let month = pair(5);
    let day = pair(8);
    let hour = pair(11);
    let minute = pair(14);
    let second = pair(17);
    if head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // 60 is a leap second: it counts into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if s[at] == b'.' {
        at += 1;
        let start = at;
        while let Some(d) = s.get(at).copied().and_then(digit) {
            if at - start < 9 {
                nanos = nanos * 10 + d;
            }
            at += 1;
        }
        let digits = at - start;
        if digits == 0 {
            return None;
        }
        if digits < 9 {
            nanos *= 10u32.pow(9 - digits as u32);
        }
    }
    let offset_seconds: i64 = match s.get(at)? {
        b'Z' | b'z' if s.len() == at + 1 => 0,
        sign @ (b'+' | b'-') if s.len() == at + 6 && s[at + 3] == b':' => {
            let hours = two_digits(s, at + 1)?;
            let minutes = two_digits(s, at + 4)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(Timestamp { seconds, nanos })
}

const fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

const fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Writes `value` as exactly `width` decimal digits at `at`; returns the end.
fn put_digits(buf: &mut [u8], at: usize, mut value: u64, width: usize) -> usize {
    // Two digits per step, from a table, then a last odd digit.
    let mut end = at + width;
    while end - at >= 2 {
        let pair = usize::try_from(value % 100).unwrap_or(0) * 2;
        buf[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        value /= 100;
        end -= 2;
    }
    if end > at {
        buf[at] = b'0' + (value % 10) as u8;
    }
    at + width
}

/// `00` to `99`, two bytes each.
static DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};
