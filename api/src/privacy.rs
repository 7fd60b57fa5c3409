//! Personal data: validating resident ID numbers, and the one masking policy applied to
//! every response and export (PIPL). Who sees phones and ID numbers unmasked: admins and
//! the household's own cadres and village officials (and an issue's applicant phone, the
//! department handling it). Leaders, viewers, exports and the public see them masked.

use entity::{issue, user::Role};

use crate::{access::Scope, auth::Principal};

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
/// must be able to call the applicant back (only while it is with their department:
/// [`sees_applicant_phone`]).
pub fn sees_applicant_contact(role: Role) -> bool {
    sees_contact_details(role) || role == Role::Department
}

/// May this caller see the applicant's phone on this issue? Department staff only while the
/// issue is with their department: one it was sent to once and has moved on from (escalated
/// further) they may still read, but they no longer call the applicant.
pub fn sees_applicant_phone(caller: &Principal, issue: &issue::Model) -> bool {
    match (&caller.scope, caller.role) {
        (Scope::Department(department), Role::Department) => {
            issue.handler_department_id == Some(*department)
        }
        (_, role) => sees_applicant_contact(role),
    }
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

/// The applicant the server records for an enterprise's matter raised in a visit: no person.
pub const ENTERPRISE_APPLICANT: &str = "（企业）";

/// An applicant as the public board shows them: [`mask_name`], except the placeholder of an
/// enterprise's matter, which names no person.
pub fn public_applicant(name: &str) -> String {
    if name == ENTERPRISE_APPLICANT {
        name.to_owned()
    } else {
        mask_name(name)
    }
}

/// Free text (a matter, a progress note) for the public board. Cadres write what they did in
/// their own words — "已电话联系王秀英 13812345678" — so every run of seven or more digits (a
/// phone, an ID number ending in `X` included, a bank card; single spaces or hyphens inside
/// it, half- or full-width, count as part of it) keeps only its first three and last two
/// characters, and the applicant's name, wherever it appears, is masked as [`mask_name`]
/// masks it. A date written `2026-11-29` (or with `/` or `.`) is left as it is.
pub fn public_text(text: &str, applicant: &str) -> String {
    let named = if applicant.chars().count() >= 2 {
        text.replace(applicant, &mask_name(applicant))
    } else {
        text.to_owned()
    };
    let chars: Vec<char> = named.chars().collect();
    let is_digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let is_separator = |c: char| matches!(c, ' ' | '-' | '\u{3000}' | '－');
    let mut out = String::with_capacity(named.len());
    let mut index = 0;
    while index < chars.len() {
        if !is_digit(chars[index]) {
            out.push(chars[index]);
            index += 1;
            continue;
        }
        if let Some(length) = date_at(&chars[index..]) {
            out.extend(&chars[index..index + length]);
            index += length;
            continue;
        }
        // The run: digits, single separators between digits, and an ID number's final X.
        let start = index;
        let mut end = index;
        while end < chars.len() {
            let c = chars[end];
            let joins_digits = is_separator(c) && chars.get(end + 1).copied().is_some_and(is_digit);
            if is_digit(c) || joins_digits {
                end += 1;
            } else if matches!(c, 'X' | 'x') {
                end += 1;
                break;
            } else {
                break;
            }
        }
        let run = &chars[start..end];
        if run.iter().filter(|c| is_digit(**c)).count() >= 7 {
            let marks = run.iter().filter(|c| !is_separator(**c)).count();
            let mut seen = 0;
            for &c in run {
                if is_separator(c) {
                    out.push(c);
                    continue;
                }
                seen += 1;
                out.push(if seen <= 3 || seen > marks - 2 {
                    c
                } else {
                    '*'
                });
            }
        } else {
            out.extend(run);
        }
        index = end;
    }
    out
}

/// The length of a date written `2026-11-29`, `2026/11/29` or `2026.11.29` at the start of
/// `chars`, if one is there (and is not the start of a longer number).
fn date_at(chars: &[char]) -> Option<usize> {
    let digits = |from: usize, min: usize, max: usize| {
        let count = chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (min..=max).contains(&count).then_some(count)
    };
    let year = digits(0, 4, 4)?;
    let separator = *chars.get(year)?;
    if !matches!(separator, '-' | '/' | '.') {
        return None;
    }
    let month = digits(year + 1, 1, 2)?;
    if chars.get(year + 1 + month) != Some(&separator) {
        return None;
    }
    let day = digits(year + 2 + month, 1, 2)?;
    Some(year + 2 + month + day)
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
    fn the_public_sees_no_phone_id_number_or_applicant_name_in_free_text() {
        assert_eq!(
            public_text("已电话联系王秀英 13812345678，王秀英表示满意", "王秀英"),
            "已电话联系王** 138******78，王**表示满意"
        );
        assert_eq!(
            public_text("身份证11010519491231002X已核实", "李四"),
            "身份证110*************2X已核实"
        );
        assert_eq!(
            public_text("座机0531-88886666，手机138 1234 5678", ""),
            "座机053*-******66，手机138 **** **78"
        );
        assert_eq!(
            public_text("本地8888-6666，手机１３８－１２３４－５６７８", ""),
            "本地888*-**66，手机１３８－****－**７８"
        );
        assert_eq!(
            public_text(
                "已于2026-11-29 10:30现场查看，2026-11-29 13812345678联系",
                ""
            ),
            "已于2026-11-29 10:30现场查看，2026-11-29 138******78联系",
            "a date stays, and ends the number it would have joined"
        );
        assert_eq!(
            public_text("电话１３８１２３４５６７８", "张"),
            "电话１３８******７８"
        );
        assert_eq!(
            public_text("补助12000元于2026-11-29到位，共3户", "张三"),
            "补助12000元于2026-11-29到位，共3户",
            "amounts and dates stay"
        );
        assert_eq!(public_applicant("（企业）"), "（企业）");
        assert_eq!(public_applicant("王秀英"), "王**");
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
