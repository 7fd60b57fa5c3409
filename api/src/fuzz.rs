//! Property tests of the small parsers that read what clients send: resident ID numbers,
//! list cursors (`?cursor=` of the uuid lists and of the ledger), and months (`YYYY-MM`). The
//! property is that arbitrary text never panics; where a
//! value is written by the server and read back, it also round-trips. Fixed seed, a few
//! hundred cases each: deterministic and quick. (The CSV import and the sync records have
//! their own beside their private parsers, and the sync cursor is fuzzed over HTTP in
//! `tests/api/fuzz.rs`.)

use chrono::NaiveDate;
use proptest::{
    prelude::*,
    test_runner::{Config, RngAlgorithm, RngSeed},
};
use uuid::Uuid;

use crate::{
    ledger::{LedgerCursor, monthly::Month},
    pagination, privacy,
};

fn config() -> Config {
    Config {
        cases: 400,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6d69_6e71_696e_6702),
        ..Config::default()
    }
}

/// Text a client might send: anything printable, digits, and near-misses of the real forms.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[0-9]{0,20}",
        "[0-9Xx]{17,19}",
        "[0-9]{4}-[0-9]{1,3}",
        "[0-9+ -]{0,12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}~[0-9a-fA-F-]{0,40}",
        "[~]{0,3}.{0,10}[~]{0,3}",
        any::<String>(),
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1i32..=9999, 1u32..=12, 1u32..=31).prop_filter_map("a real day", |(year, month, day)| {
        NaiveDate::from_ymd_opt(year, month, day)
    })
}

/// The first 17 digits of an ID number: a six-digit area, a real birth date, three digits.
fn id_card_body() -> impl Strategy<Value = String> {
    ("[1-8][0-9]{5}", date(), "[0-9]{3}")
        .prop_map(|(area, birth, sequence)| format!("{area}{}{sequence}", birth.format("%Y%m%d")))
}

fn id_card() -> impl Strategy<Value = String> {
    id_card_body().prop_filter_map("a check character", |body| {
        privacy::id_card_check_character(&body).map(|check| format!("{body}{check}"))
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn id_number_checks_never_panic_on_any_text(number in text()) {
        let valid = privacy::valid_id_card(&number);
        let normalised = privacy::normalise_id_card(&number);
        prop_assert_eq!(privacy::normalise_id_card(&normalised), normalised.clone(), "normalising twice changes nothing");
        if valid {
            prop_assert_eq!(number.len(), 18);
            prop_assert!(privacy::valid_id_card(&normalised), "the stored form stays valid");
        }
        let masked = privacy::mask_id_card(&number);
        prop_assert_eq!(masked.chars().count(), number.chars().count());
        let _ = privacy::valid_phone(&number);
        let _ = privacy::mask_phone(&number);
        let _ = privacy::mask_name(&number);
        let _ = privacy::id_card_check_character(&number);
    }

    #[test]
    fn a_well_formed_id_number_is_valid_in_either_case_and_a_wrong_check_character_is_not(
        number in id_card(),
        wrong in 0usize..11,
    ) {
        prop_assert!(privacy::valid_id_card(&number), "{}", number);
        prop_assert!(privacy::valid_id_card(&number.to_ascii_lowercase()));
        let padded = format!("  {}  ", number.to_ascii_lowercase());
        prop_assert!(privacy::valid_id_card(&privacy::normalise_id_card(&padded)));
        let check = number.as_bytes()[17];
        let other = b"10X98765432"[wrong];
        if other != check {
            let altered = format!("{}{}", &number[..17], char::from(other));
            prop_assert!(!privacy::valid_id_card(&altered), "{} with check {}", number, char::from(other));
        }
        let masked = privacy::mask_id_card(&number);
        prop_assert!(masked.starts_with(&number[..4]) && masked.ends_with(&number[14..]));
        prop_assert_eq!(masked.matches('*').count(), 10);
    }

    #[test]
    fn uuid_cursors_read_any_text_without_panic_and_round_trip(cursor in text(), id in any::<u128>()) {
        match pagination::uuid_cursor(Some(&cursor)) {
            Ok(Some(parsed)) => prop_assert_eq!(Uuid::parse_str(&cursor).ok(), Some(parsed)),
            Ok(None) => prop_assert!(cursor.is_empty()),
            Err(error) => prop_assert_eq!(error.problem().status, 422),
        }
        let id = Uuid::from_u128(id);
        prop_assert_eq!(pagination::uuid_cursor(Some(&id.to_string())).ok(), Some(Some(id)));
    }

    #[test]
    fn ledger_cursors_decode_any_text_without_panic_and_round_trip(
        text in text(),
        deadline in date(),
        id in any::<u128>(),
    ) {
        if let Some(cursor) = LedgerCursor::decode(&text) {
            // Whatever was accepted reads back the same after the server writes it out.
            prop_assert_eq!(LedgerCursor::decode(&cursor.encode()), Some(cursor));
        }
        let cursor = LedgerCursor { deadline, id: Uuid::from_u128(id) };
        prop_assert_eq!(LedgerCursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn months_parse_any_text_without_panic_and_round_trip(text in text(), year in 1000i32..=9999, month in 1u32..=12) {
        match Month::parse(&text) {
            Ok(parsed) => {
                prop_assert_eq!(Month::parse(&parsed.to_string()).ok(), Some(parsed));
                prop_assert!(parsed.next_first_day() > parsed.first_day);
            }
            Err(error) => prop_assert_eq!(error.problem().status, 422),
        }
        let written = format!("{year:04}-{month:02}");
        let parsed = Month::parse(&written).map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(parsed.to_string(), written);
    }
}
