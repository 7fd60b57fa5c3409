//! Cursor pagination: `?limit=` (default 50, at most 500) and `?cursor=` in, a [`Page`] out.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u64 = 500;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched: the extra row only says that
    /// another page exists.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: u64,
        cursor_of: impl Fn(&R) -> String,
        into_item: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(into_item).collect(),
            next_cursor,
        }
    }
}

/// The page size asked for, checked: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
pub fn limit(requested: Option<u64>) -> ApiResult<u64> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(limit @ 1..=MAX_LIMIT) => Ok(limit),
        Some(_) => Err(ApiError::invalid_field(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        )),
    }
}

/// A cursor that is a record id.
pub fn uuid_cursor(cursor: Option<&str>) -> ApiResult<Option<Uuid>> {
    // `?cursor=` (empty) is the first page, like no cursor at all.
    cursor
        .filter(|cursor| !cursor.is_empty())
        .map(|cursor| {
            Uuid::parse_str(cursor).map_err(|_| {
                ApiError::invalid_field(
                    "cursor",
                    "invalid",
                    "cursor is not one this list handed out.",
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_becomes_the_cursor_of_the_last_item_kept() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |row| row.to_string(), |row| row);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_rows(vec![1, 2], 2, |row| row.to_string(), |row| row);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn limits_outside_one_to_five_hundred_are_refused() {
        assert_eq!(limit(None).ok(), Some(50));
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(100_000)).is_err());
        assert_eq!(limit(Some(500)).ok(), Some(500));
    }
}
