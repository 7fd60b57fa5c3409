//! Personal data: validating resident ID numbers, and the one masking policy applied to
//! every response and export (PIPL). Who sees phones and ID numbers unmasked: admins and
//! the household's own cadres and village officials. Leaders, viewers, exports and the
//! public see them masked.

use entity::user::Role;

/// May a caller with this role see a household's phone and ID number unmasked? (Cadres and
/// village officials only ever see households of their own villages.)
pub fn sees_contact_details(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Cadre | Role::VillageOfficial)
}

/// May a caller with this role see an applicant's full name? (Viewers — dashboards,
/// auditors — see `张**`.)
pub fn sees_names(role: Role) -> bool {
    role != Role::Viewer
}

/// May a caller with this role see an applicant's phone? Department staff handling an issue
/// must be able to call the applicant back.
pub fn sees_applicant_contact(role: Role) -> bool {
    sees_contact_details(role) || role == Role::Department
}

/// `138****1234`: the first three and the last four digits.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// `1101**********1234`: the first four and the last four characters.
pub fn mask_id_card(number: &str) -> String {
    mask_middle(number, 4, 4)
}

/// `张**`: the family name and one star per other character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

fn mask_middle(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut masked: String = chars[..head].iter().collect();
    masked.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// Is this an 18-character resident ID number (GB 11643-1999) with a valid birth date and
/// check character? A lower-case `x` is accepted; callers store [`normalise_id_card`].
pub fn valid_id_card(number: &str) -> bool {
    let bytes = number.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let birth = &number[6..14];
    if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return false;
    }
    id_card_check_character(&number[..17])
        .is_some_and(|expected| bytes[17].to_ascii_uppercase() == expected as u8)
}

/// The check character (GB 11643-1999) of the first 17 digits of an ID number.
pub fn id_card_check_character(first_seventeen: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = first_seventeen.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(char::from(CHECK[(sum % 11) as usize]))
}

/// The stored form of an ID number: upper-case `X`.
pub fn normalise_id_card(number: &str) -> String {
    number.trim().to_ascii_uppercase()
}

/// A mainland mobile (`1` + 10 digits) or a landline (`0` + area code, optional `-`, 7–8
/// digits).
pub fn valid_phone(phone: &str) -> bool {
    let digits_only =
        |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if phone.len() == 11 && phone.starts_with('1') && digits_only(phone) {
        return true;
    }
    let landline = phone.replacen('-', "", 1);
    phone.starts_with('0') && (10..=12).contains(&landline.len()) && digits_only(&landline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_the_rules_allow() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_id_card("11010519491231002X"), "1101**********002X");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn id_numbers_need_a_real_birth_date_and_the_right_check_character() {
        assert!(valid_id_card("11010519491231002X"));
        assert!(valid_id_card("11010519491231002x"));
        assert!(
            !valid_id_card("110105194912310021"),
            "wrong check character"
        );
        assert!(!valid_id_card("110105194913310024"), "month 13");
        assert!(!valid_id_card("1101051949123100"), "too short");
        assert!(!valid_id_card("11010519491231002Y"));
    }

    #[test]
    fn phones_are_mobiles_or_landlines() {
        assert!(valid_phone("13812341234"));
        assert!(valid_phone("0531-88886666"));
        assert!(valid_phone("053188886666"));
        assert!(!valid_phone("23812341234"));
        assert!(!valid_phone("1381234123"));
        assert!(!valid_phone("138-1234-1234"));
    }
}
