//! The Chinese words people read for the ledger's enums — on the notice boards, in exports —
//! kept in one place so that a board and a spreadsheet never disagree.

use entity::issue::{Category, Level, Status};

/// The label a person reads for a value (`实际困难`, `镇`, `办理中`).
pub trait Label {
    /// The label, in Simplified Chinese.
    fn label(self) -> &'static str;
}

impl Label for Category {
    fn label(self) -> &'static str {
        match self {
            Category::CadreConduct => "干部作风",
            Category::PracticalDifficulty => "实际困难",
            Category::WorkShortcoming => "工作不足",
            Category::DevelopmentSuggestion => "发展建议",
        }
    }
}

impl Label for Level {
    fn label(self) -> &'static str {
        match self {
            Level::Village => "村",
            Level::Town => "镇",
            Level::County => "县",
        }
    }
}

impl Label for Status {
    fn label(self) -> &'static str {
        match self {
            Status::Open => "待办",
            Status::InProgress => "办理中",
            Status::Resolved => "已办结",
            Status::Closed => "已销号",
        }
    }
}
