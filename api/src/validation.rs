//! Field checks that request types share (validator's `custom` functions), so that the REST
//! routes and the sync push refuse the same values with the same codes.

use validator::ValidationError;

use crate::privacy;

/// A mainland mobile or a landline with its area code ([`privacy::valid_phone`]).
pub fn phone(phone: &str) -> Result<(), ValidationError> {
    if privacy::valid_phone(phone) {
        Ok(())
    } else {
        Err(ValidationError::new("invalid_phone")
            .with_message("A mobile (11 digits) or a landline (0531-88886666).".into()))
    }
}

/// Text that says something: not only spaces (a name or a matter of "   " is refused like an
/// empty one).
pub fn not_blank(text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        Err(ValidationError::new("blank").with_message("Must not be empty or only spaces.".into()))
    } else {
        Ok(())
    }
}
