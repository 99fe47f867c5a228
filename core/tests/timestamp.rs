//! `Timestamp`: RFC 3339 text both ways, Unix nanoseconds, `SystemTime`,
//! MessagePack's timestamp extension and serde, through its public API.

use std::time::SystemTime;

use tickwire_core::Timestamp;

fn at(seconds: i64, nanos: u32) -> Timestamp {
    Timestamp::new(seconds, nanos).expect("nanoseconds below one second")
}

/// Whole seconds since the epoch and the nanoseconds past them.
fn parts(t: Timestamp) -> (i128, i128) {
    let nanos = t.unix_nanos();
    (
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000),
    )
}
fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn parses_fractions_of_any_length_and_offsets() {
    assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp::UNIX_EPOCH);
    assert_eq!(parts(ts("2024-01-02T15:04:05Z")).0, 1_704_207_845);
    assert_eq!(parts(ts("2024-01-02T15:04:05.1Z")).1, 100_000_000);
    assert_eq!(parts(ts("2024-01-02T15:04:05.123456Z")).1, 123_456_000);
    assert_eq!(parts(ts("2024-01-02T15:04:05.123456789Z")).1, 123_456_789);
    assert_eq!(
        parts(ts("2024-01-02T15:04:05.1234567891234Z")).1,
        123_456_789
    );
    assert_eq!(ts("2024-01-02T10:04:05-05:00"), ts("2024-01-02T15:04:05Z"));
    assert_eq!(ts("2024-01-03T00:34:05+09:30"), ts("2024-01-02T15:04:05Z"));
    assert_eq!(ts("2024-02-29 15:04:05z"), ts("2024-02-29T15:04:05Z"));
    assert_eq!(ts("1969-12-31T23:59:59.5Z"), at(-1, 500_000_000));
}

#[test]
fn rejects_what_is_not_rfc3339() {
    for bad in [
        "",
        "2024-01-02",
        "2024-01-02T15:04:05",
        "2024-01-02T15:04:05.Z",
        "2024-13-02T15:04:05Z",
        "2023-02-29T15:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T15:04:05+0100",
        "2024-01-02T15:04:05Zjunk",
        "2024-01-02X15:04:05Z",
        "2024-01-02T15:04:05.12a3Z",
        "２０２４-01-02T15:04:05Z",
    ] {
        assert!(bad.parse::<Timestamp>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn formats_like_go_rfc3339nano() {
    // Trailing zeros of the fraction dropped, no fraction when whole.
    for (text, formatted) in [
        (
            "2024-01-02T15:04:05.123456789Z",
            "2024-01-02T15:04:05.123456789Z",
        ),
        ("2024-01-02T15:04:05.120Z", "2024-01-02T15:04:05.12Z"),
        ("2024-01-02T15:04:05Z", "2024-01-02T15:04:05Z"),
    ] {
        assert_eq!(ts(text).to_string(), formatted, "{text}");
    }
    assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
    assert_eq!(
        Timestamp::from_unix_nanos(-1).to_string(),
        "1969-12-31T23:59:59.999999999Z"
    );
    // Out of RFC 3339's range: no panic, a plain year.
    assert!(at(i64::MAX, 0).to_string().ends_with('Z'));
    assert!(at(i64::MIN, 1).to_string().starts_with('-'));
}

#[test]
fn round_trips_through_text_for_many_instants() {
    let mut seconds = -62_135_596_800i64; // 0001-01-01
    while seconds < 253_402_300_799 {
        let t = at(seconds, (seconds as u32) % 1_000_000_000);
        assert_eq!(ts(&t.to_string()), t);
        seconds += 86_400 * 37 + 3_607;
    }
}

#[test]
fn unix_nanos_and_system_time() {
    let t = Timestamp::from_unix_nanos(1_704_207_845_123_456_789);
    assert_eq!(t, ts("2024-01-02T15:04:05.123456789Z"));
    assert_eq!(t.unix_nanos(), 1_704_207_845_123_456_789);
    let system: SystemTime = t.into();
    assert_eq!(Timestamp::from(system), t);
    let before = Timestamp::from_unix_nanos(-1_500_000_000);
    assert_eq!(Timestamp::from(SystemTime::from(before)), before);
    assert_eq!(Timestamp::new(1, 1_000_000_000), None);
}

#[test]
fn msgpack_ext_uses_the_smallest_layout() {
    let cases = [
        (at(1_704_207_845, 0), 4),
        (at(1_704_207_845, 123_456_789), 8),
        (at(1 << 34, 0), 12),
        (at(-1, 5), 12),
    ];
    for (t, len) in cases {
        let (data, n) = t.to_msgpack_ext();
        assert_eq!(n, len, "{t:?}");
        assert_eq!(Timestamp::from_msgpack_ext(&data[..n]), Some(t));
    }
    assert_eq!(Timestamp::from_msgpack_ext(&[0; 5]), None);
}

#[test]
fn serde_picks_text_or_extension() {
    let t = ts("2024-01-02T15:04:05.123456789Z");
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        "\"2024-01-02T15:04:05.123456789Z\""
    );
    assert_eq!(
        serde_json::from_str::<Timestamp>("\"2024-01-02T15:04:05.123456789Z\"").unwrap(),
        t
    );

    let bytes = rmp_serde::to_vec_named(&t).unwrap();
    assert_eq!(&bytes[..2], &[0xd7, 0xff]);
    assert_eq!(bytes.len(), 10);
    assert_eq!(rmp_serde::from_slice::<Timestamp>(&bytes).unwrap(), t);

    let whole = at(1_704_207_845, 0);
    let bytes = rmp_serde::to_vec(&whole).unwrap();
    assert_eq!(&bytes[..2], &[0xd6, 0xff]);
    assert_eq!(rmp_serde::from_slice::<Timestamp>(&bytes).unwrap(), whole);

    let far = at(-5, 7);
    let bytes = rmp_serde::to_vec(&far).unwrap();
    assert_eq!(&bytes[..3], &[0xc7, 0x0c, 0xff]);
    assert_eq!(rmp_serde::from_slice::<Timestamp>(&bytes).unwrap(), far);

    // Lenient: a string inside MessagePack.
    let text = rmp_serde::to_vec("2024-01-02T15:04:05.123456789Z").unwrap();
    assert_eq!(rmp_serde::from_slice::<Timestamp>(&text).unwrap(), t);
    // Other extension types are refused.
    let other = [0xd6, 0x05, 0, 0, 0, 1];
    assert!(rmp_serde::from_slice::<Timestamp>(&other).is_err());
}
