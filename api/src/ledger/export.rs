//! The ledger export (台账导出): the ledger as a spreadsheet an office opens in Excel, WPS or
//! LibreOffice — an xlsx workbook or a UTF-8 CSV — with the Chinese column headers of the
//! campaign's ledger form.
//!
//! Three parts, each usable alone:
//! - **rows**: [`ExportRow`] is one line of the sheet, independent of where it comes from;
//!   [`ledger_rows`] reads the live ledger the caller may see in keyset pages of
//!   [`PAGE_SIZE`], so an export of 200,000 issues never holds more than one page of them.
//! - **writing**: [`respond`] turns any stream of pages of rows into the download — xlsx
//!   written row by row ("constant memory" mode) to an anonymous temporary file that is then
//!   streamed back, or CSV streamed page by page as the rows are read.
//! - **limiting**: [`ExportLimiter`] lets at most [`MAX_CONCURRENT_EXPORTS`] exports run at
//!   once in a process, and one per caller; beyond that, 429 with `Retry-After`.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    io::{Seek, SeekFrom},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
};

use actix_web::{HttpResponse, body::SizedStream, http::header, web::Bytes};
use chrono::{Datelike, NaiveDate};
use entity::{
    issue::{self, Category, Level, Status},
    user,
};
use futures_util::{Stream, StreamExt, stream};
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Deadlines, LedgerCursor, LedgerFilter, labels::Label};
use crate::{
    auth::{Actor, Principal},
    error::{ApiError, ApiResult, cause_chain},
    privacy,
};

/// The media type of the xlsx download.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The media type of the CSV download.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Issues read from the database per query.
pub const PAGE_SIZE: u64 = 1_000;

/// At most this many exports run at once in one API process (and one per caller).
pub const MAX_CONCURRENT_EXPORTS: usize = 2;

/// What a refused export is told to wait, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 10;

/// The column headers, in order (the campaign's ledger form, plus 序号, 村, 类别, 层级, 状态).
pub const HEADERS: [&str; 10] = [
    "序号",
    "村",
    "申请人姓名",
    "申办事项",
    "问题类别",
    "层级",
    "责任人",
    "办结时限",
    "办理情况",
    "状态",
];

/// The sheet's name in the workbook.
pub const SHEET_NAME: &str = "台账";

/// The file an export is written as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// An Excel workbook (Office Open XML): frozen header, real dates, overdue rows in red.
    #[default]
    Xlsx,
    /// CSV in UTF-8 with a byte-order mark (so that Excel reads the Chinese), CRLF line ends.
    Csv,
}

impl ExportFormat {
    /// Reads the `format` query parameter: absent (or empty) is xlsx; anything but `xlsx` or
    /// `csv` is a 422 naming `format`.
    pub fn parse(text: Option<&str>) -> ApiResult<Self> {
        match text.map(str::trim).unwrap_or_default() {
            "" | "xlsx" => Ok(Self::Xlsx),
            "csv" => Ok(Self::Csv),
            _ => Err(ApiError::invalid_field(
                "format",
                "invalid",
                "format is xlsx or csv.",
            )),
        }
    }

    /// The response's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Xlsx => XLSX_CONTENT_TYPE,
            Self::Csv => CSV_CONTENT_TYPE,
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
        }
    }
}

/// One line of the exported ledger, whatever it was read from (the live ledger, a frozen
/// monthly ledger). Texts are final: the applicant is already masked for callers who may not
/// see names, and `overdue` is decided by the source (as of today, or as of a month's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    /// 村: the village's name.
    pub village: String,
    /// 申请人姓名, masked (`张**`) where the caller may not see names.
    pub applicant: String,
    /// 申办事项.
    pub matter: String,
    /// 问题类别.
    pub category: Category,
    /// 层级: the level handling it.
    pub level: Level,
    /// 责任人: the lead responsible person's name.
    pub responsible: String,
    /// 办结时限.
    pub deadline: Option<NaiveDate>,
    /// 办理情况: the latest progress (or what was done).
    pub progress: String,
    /// 状态.
    pub status: Status,
    /// Highlighted as overdue.
    pub overdue: bool,
}

/// The name a download is saved under: an ASCII stem for old clients (`ledger-2026-11-28`)
/// and the stem people read (`台账-2026-11-28`), sent as RFC 6266 `filename` and `filename*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadName {
    ascii_stem: String,
    stem: String,
}

impl DownloadName {
    /// A name from its two stems (without extension). Characters of `ascii_stem` other than
    /// letters, digits, `-`, `_` and `.` become `_`.
    pub fn new(ascii_stem: &str, stem: &str) -> Self {
        Self {
            ascii_stem: ascii_stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
            stem: stem.to_owned(),
        }
    }

    /// `attachment; filename="ledger-2026-11-28.xlsx"; filename*=UTF-8''%E5%8F%B0…xlsx`.
    pub fn content_disposition(&self, format: ExportFormat) -> String {
        let extension = format.extension();
        format!(
            "attachment; filename=\"{}.{extension}\"; filename*=UTF-8''{}.{extension}",
            self.ascii_stem,
            percent_encode(&self.stem),
        )
    }
}

/// RFC 8187 `value-chars`: every byte but `attr-char` as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if keep {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

// ---------------------------------------------------------------------------------------
// Limiting

/// Exports are expensive (a full scan of the caller's ledger, a file written): this lets
/// [`MAX_CONCURRENT_EXPORTS`] run at once and one per caller (a user or an API token). It is
/// per process — a guard of this process's CPU and disk, not state that several processes
/// must agree on.
#[derive(Debug)]
pub struct ExportLimiter {
    max: usize,
    running: Arc<Mutex<Vec<Uuid>>>,
}

impl Default for ExportLimiter {
    fn default() -> Self {
        Self::new(MAX_CONCURRENT_EXPORTS)
    }
}

impl ExportLimiter {
    /// A limiter letting `max` exports run at once.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            running: Arc::default(),
        }
    }

    /// Starts an export for `caller`, or 429 (`Retry-After`) when `max` are running or the
    /// caller has one running. The export runs until the permit is dropped.
    pub fn try_start(&self, caller: &Principal) -> ApiResult<ExportPermit> {
        let caller = match caller.actor {
            Actor::User { id } | Actor::ApiToken { id } => id,
        };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.len() >= self.max || running.contains(&caller) {
            return Err(ApiError::TooManyRequests {
                retry_after: RETRY_AFTER_SECONDS,
            });
        }
        running.push(caller);
        Ok(ExportPermit {
            running: Arc::clone(&self.running),
            caller,
        })
    }
}

/// A running export; dropping it (the download finished, failed or was abandoned) frees its
/// place.
#[derive(Debug)]
#[must_use = "the export's place is freed when the permit is dropped"]
pub struct ExportPermit {
    running: Arc<Mutex<Vec<Uuid>>>,
    caller: Uuid,
}

impl Drop for ExportPermit {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = running.iter().position(|caller| *caller == self.caller) {
            running.swap_remove(index);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rows from the live ledger

/// Village and people's names read so far in one export: each is read once, with the first
/// page that needs it, not once a page (a county's 300 villages and 1,000 cadres recur on
/// each of its 200 pages).
#[derive(Debug, Default)]
pub struct ExportNames {
    villages: HashMap<Uuid, String>,
    people: HashMap<Uuid, String>,
}

impl ExportNames {
    /// Reads the names of `issues`' villages and lead responsibles not read yet: one query
    /// each, or none.
    async fn read_for(
        &mut self,
        db: &impl ConnectionTrait,
        issues: &[issue::Model],
    ) -> Result<(), DbErr> {
        let villages = unseen(&self.villages, issues.iter().map(|issue| issue.village_id));
        if !villages.is_empty() {
            self.villages
                .extend(crate::dashboard::unit_names(db, villages).await?);
        }
        let people = unseen(
            &self.people,
            issues.iter().map(|issue| issue.lead_responsible_id),
        );
        self.people.extend(display_names(db, people).await?);
        Ok(())
    }
}

fn unseen(known: &HashMap<Uuid, String>, ids: impl Iterator<Item = Uuid>) -> HashSet<Uuid> {
    ids.filter(|id| !known.contains_key(id)).collect()
}

/// One page of the ledger the caller may see (`list_ledger`: scope, department, conflict of
/// interest), as export rows, with the cursor of the next page if there may be one. Names not
/// in `names` yet are read with one query each for the whole page.
pub async fn ledger_page(
    db: &impl ConnectionTrait,
    caller: &Principal,
    filter: &LedgerFilter,
    deadlines: Deadlines,
    after: Option<LedgerCursor>,
    limit: u64,
    names: &mut ExportNames,
) -> Result<(Vec<ExportRow>, Option<LedgerCursor>), DbErr> {
    let issues = super::list_ledger(db, caller, filter, deadlines, after, limit).await?;
    let next = match issues.last() {
        Some(last) if issues.len() as u64 >= limit => Some(LedgerCursor {
            deadline: last.deadline.unwrap_or_default(),
            id: last.id,
        }),
        _ => None,
    };
    names.read_for(db, &issues).await?;
    let sees_names = privacy::sees_names(caller.role);
    let rows = issues
        .into_iter()
        .map(|issue| export_row(issue, &names.villages, &names.people, deadlines, sees_names))
        .collect();
    Ok((rows, next))
}

/// The whole ledger the caller may see, filtered, in ledger order (deadline, id), as a
/// stream of pages of `page_size` rows ([`PAGE_SIZE`] in the API) read one after another as
/// the stream is polled. A database error ends the stream after yielding it.
///
/// Not a snapshot: an issue whose deadline changes while the export runs may be missed or
/// listed twice, like in any keyset-paged read.
pub fn ledger_rows(
    db: DatabaseConnection,
    caller: Principal,
    filter: LedgerFilter,
    deadlines: Deadlines,
    page_size: u64,
) -> impl Stream<Item = ApiResult<Vec<ExportRow>>> + Send + 'static {
    struct Paging {
        db: DatabaseConnection,
        caller: Principal,
        filter: LedgerFilter,
        deadlines: Deadlines,
        after: Option<LedgerCursor>,
        names: ExportNames,
    }
    let first = Paging {
        db,
        caller,
        filter,
        deadlines,
        after: None,
        names: ExportNames::default(),
    };
    let page_size = page_size.max(1);
    stream::unfold(Some(first), move |paging| async move {
        let mut paging = paging?;
        let page = ledger_page(
            &paging.db,
            &paging.caller,
            &paging.filter,
            paging.deadlines,
            paging.after,
            page_size,
            &mut paging.names,
        )
        .await;
        match page {
            Err(error) => Some((Err(ApiError::from(error)), None)),
            Ok((rows, _)) if rows.is_empty() => None,
            Ok((rows, next)) => {
                paging.after = next;
                let more = next.is_some().then_some(paging);
                Some((Ok(rows), more))
            }
        }
    })
}

fn export_row(
    issue: issue::Model,
    villages: &HashMap<Uuid, String>,
    people: &HashMap<Uuid, String>,
    deadlines: Deadlines,
    sees_names: bool,
) -> ExportRow {
    let overdue = deadlines.is_overdue(&issue);
    let finished = matches!(issue.status, Status::Resolved | Status::Closed);
    let progress = issue
        .latest_progress
        .or(if finished { issue.resolution } else { None })
        .unwrap_or_default();
    ExportRow {
        village: villages.get(&issue.village_id).cloned().unwrap_or_default(),
        applicant: if sees_names {
            issue.applicant_name
        } else {
            privacy::mask_name(&issue.applicant_name)
        },
        matter: issue.matter,
        category: issue.category,
        level: issue.level,
        responsible: people
            .get(&issue.lead_responsible_id)
            .cloned()
            .unwrap_or_default(),
        deadline: issue.deadline,
        progress,
        status: issue.status,
        overdue,
    }
}

async fn display_names(
    db: &impl ConnectionTrait,
    ids: HashSet<Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

// ---------------------------------------------------------------------------------------
// Writing

/// Why writing an export failed (always our fault: a 500, logged).
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        Self::Internal(Box::new(error))
    }
}

/// The download of an export: `rows` (pages of [`ExportRow`], from any source, in the order
/// they should appear) written as `format`, saved as `name`, with `permit` held until the
/// body has been sent or abandoned.
///
/// - **xlsx**: the rows are written page by page, in a blocking thread, to a worksheet in
///   "constant memory" mode and then to an anonymous temporary file (removed by the system
///   when closed — also on a crash), which is streamed back with its `Content-Length`.
///   Memory stays flat whatever the number of rows. A failing source is an ordinary error
///   response (e.g. 503), since nothing has been sent yet.
/// - **csv**: the first page is read before the response starts (a source that fails at
///   once is an ordinary error response); the byte-order mark, the header line and that
///   page then leave at once, and each further page is encoded and sent as it is read, so
///   the first bytes leave long before the last row is read. If the source fails midway,
///   the error is logged and the connection is closed without the body's proper end
///   (HTTP/1.1: no final chunk), so the client sees a failed, truncated download — never a
///   short file that looks complete.
pub async fn respond<S>(
    permit: ExportPermit,
    format: ExportFormat,
    name: &DownloadName,
    rows: S,
) -> ApiResult<HttpResponse>
where
    S: Stream<Item = ApiResult<Vec<ExportRow>>> + Send + 'static,
{
    let disposition = name.content_disposition(format);
    let mut response = HttpResponse::Ok();
    response.content_type(format.content_type());
    response.insert_header((header::CONTENT_DISPOSITION, disposition));
    match format {
        ExportFormat::Xlsx => {
            let file = write_xlsx(rows).await?;
            let length = file.metadata().map_err(WriteError::from)?.len();
            let body = file_chunks(tokio::fs::File::from_std(file), permit);
            Ok(response.body(SizedStream::new(length, body)))
        }
        // Fused: the CSV body polls again after the source has ended (an empty ledger ends at
        // the first poll), and an `unfold` must not be polled after its end.
        ExportFormat::Csv => csv_response(response, Box::pin(rows.fuse()), permit).await,
    }
}

/// Runs blocking work (file writing) off the async worker.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, WriteError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(Box::new(error)))?
        .map_err(ApiError::from)
}

async fn write_xlsx<S>(rows: S) -> ApiResult<std::fs::File>
where
    S: Stream<Item = ApiResult<Vec<ExportRow>>> + Send + 'static,
{
    let mut rows = std::pin::pin!(rows);
    let mut sheet = blocking(XlsxLedger::new).await?;
    while let Some(page) = rows.next().await {
        let page = page?;
        sheet = blocking(move || {
            let mut sheet = sheet;
            sheet.write_page(&page)?;
            Ok(sheet)
        })
        .await?;
    }
    blocking(move || sheet.finish()).await
}

/// Reads a finished file in chunks; the permit goes with the last one.
fn file_chunks(
    file: tokio::fs::File,
    permit: ExportPermit,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    const CHUNK: usize = 64 * 1024;
    stream::unfold(Some((file, permit)), |state| async move {
        let (mut file, permit) = state?;
        let mut buffer = vec![0; CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Bytes::from(buffer)), Some((file, permit))))
            }
            Err(error) => Some((Err(error), None)),
        }
    })
}

/// The widest cell Excel takes, in characters.
const MAX_CELL_CHARS: usize = 32_767;

/// Column widths in Excel's units (about one Latin character; a Chinese one takes two).
const COLUMN_WIDTHS: [f64; 10] = [6.0, 12.0, 12.0, 40.0, 10.0, 6.0, 10.0, 12.0, 40.0, 8.0];

/// The light red fill of overdue rows (Excel's own "light red fill").
const OVERDUE_FILL: u32 = 0xFFC7CE;

/// The formats of one kind of data row (plain or overdue).
struct RowFormats {
    number: Format,
    text: Format,
    long_text: Format,
    date: Format,
}

impl RowFormats {
    fn new(fill: Option<u32>) -> Self {
        let base = || {
            let format = Format::new()
                .set_align(FormatAlign::Top)
                .set_border(FormatBorder::Thin);
            match fill {
                Some(rgb) => format.set_background_color(Color::RGB(rgb)),
                None => format,
            }
        };
        Self {
            number: base().set_align(FormatAlign::Center),
            text: base(),
            long_text: base().set_text_wrap(),
            date: base()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Center),
        }
    }
}

/// The ledger sheet being written, row by row.
struct XlsxLedger {
    workbook: Workbook,
    plain: RowFormats,
    overdue: RowFormats,
    /// The next row to write (0 is the header).
    next_row: u32,
}

impl XlsxLedger {
    fn new() -> Result<Self, WriteError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(SHEET_NAME)?;
        for (column, width) in (0u16..).zip(COLUMN_WIDTHS) {
            sheet.set_column_width(column, width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        let header = Format::new()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_border(FormatBorder::Thin)
            .set_background_color(Color::RGB(0xD9E1F2));
        for (column, title) in (0u16..).zip(HEADERS) {
            sheet.write_string_with_format(0, column, title, &header)?;
        }
        Ok(Self {
            workbook,
            plain: RowFormats::new(None),
            overdue: RowFormats::new(Some(OVERDUE_FILL)),
            next_row: 1,
        })
    }

    fn write_page(&mut self, rows: &[ExportRow]) -> Result<(), WriteError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for row in rows {
            let line = self.next_row;
            let formats = if row.overdue {
                &self.overdue
            } else {
                &self.plain
            };
            sheet.write_number_with_format(line, 0, f64::from(line), &formats.number)?;
            sheet.write_string_with_format(line, 1, cell(&row.village), &formats.text)?;
            sheet.write_string_with_format(line, 2, cell(&row.applicant), &formats.text)?;
            sheet.write_string_with_format(line, 3, cell(&row.matter), &formats.long_text)?;
            sheet.write_string_with_format(line, 4, row.category.label(), &formats.text)?;
            sheet.write_string_with_format(line, 5, row.level.label(), &formats.number)?;
            sheet.write_string_with_format(line, 6, cell(&row.responsible), &formats.text)?;
            match row.deadline.and_then(excel_date) {
                Some(date) => {
                    sheet.write_date_with_format(line, 7, &date, &formats.date)?;
                }
                None => {
                    sheet.write_blank(line, 7, &formats.date)?;
                }
            }
            sheet.write_string_with_format(line, 8, cell(&row.progress), &formats.long_text)?;
            sheet.write_string_with_format(line, 9, row.status.label(), &formats.number)?;
            self.next_row += 1;
        }
        Ok(())
    }

    /// Adds the filter buttons and saves the workbook to an anonymous temporary file,
    /// rewound for reading.
    fn finish(mut self) -> Result<std::fs::File, WriteError> {
        let last_row = self.next_row - 1;
        let last_column = (HEADERS.len() - 1) as u16;
        self.workbook
            .worksheet_from_index(0)?
            .autofilter(0, 0, last_row, last_column)?;
        let mut file = tempfile::tempfile()?;
        self.workbook.save_to_writer(&mut file)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}

/// A date as Excel stores it (a serial day number shown with the cell's date format);
/// `None` outside Excel's calendar (years 1900–9999).
fn excel_date(date: NaiveDate) -> Option<ExcelDateTime> {
    let year = u16::try_from(date.year()).ok()?;
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    ExcelDateTime::from_ymd(year, month, day).ok()
}

/// A text cut to what a cell holds (longer texts are an error in the writer).
fn cell(text: &str) -> &str {
    match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Formula injection (CSV injection): a cell that starts like a formula gets a leading `'`,
/// so that a spreadsheet shows it as text instead of running it.
fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn csv_bytes(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, WriteError> {
    writer
        .into_inner()
        .map_err(|error| WriteError::Io(error.into_error()))
}

/// The start of the CSV: the UTF-8 byte-order mark and the header line.
fn csv_head() -> Result<Vec<u8>, WriteError> {
    let mut writer = csv_writer();
    writer.write_record(HEADERS)?;
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(csv_bytes(writer)?);
    Ok(bytes)
}

/// Rows as CSV lines, numbered (序号) from `first_number`.
fn csv_rows(rows: &[ExportRow], first_number: u64) -> Result<Vec<u8>, WriteError> {
    let mut writer = csv_writer();
    for (number, row) in (first_number..).zip(rows) {
        let cells: [Cow<'_, str>; 10] = [
            Cow::Owned(number.to_string()),
            neutralise(&row.village),
            neutralise(&row.applicant),
            neutralise(&row.matter),
            Cow::Borrowed(row.category.label()),
            Cow::Borrowed(row.level.label()),
            neutralise(&row.responsible),
            Cow::Owned(
                row.deadline
                    .map(|date| date.to_string())
                    .unwrap_or_default(),
            ),
            neutralise(&row.progress),
            Cow::Borrowed(row.status.label()),
        ];
        writer.write_record(cells.iter().map(|cell| cell.as_bytes()))?;
    }
    csv_bytes(writer)
}

type PageStream = Pin<Box<dyn Stream<Item = ApiResult<Vec<ExportRow>>> + Send>>;

/// The CSV response: the first page is read before anything is sent, so that a database
/// that cannot be reached is an ordinary error response (503), not a broken download.
async fn csv_response(
    mut response: actix_web::HttpResponseBuilder,
    mut rows: PageStream,
    permit: ExportPermit,
) -> ApiResult<HttpResponse> {
    let mut head = csv_head()?;
    let mut next_number = 1;
    if let Some(page) = rows.next().await.transpose()? {
        head.extend(csv_rows(&page, next_number)?);
        next_number += page.len() as u64;
    }
    Ok(response.streaming(csv_body(Bytes::from(head), next_number, rows, permit)))
}

/// The rest of the CSV body: the next row's number and where the pages come from.
struct CsvBody {
    rows: PageStream,
    next_number: u64,
    span: tracing::Span,
    _permit: ExportPermit,
}

/// The CSV body: `head` at once, then one chunk per page as it is read. A failure after the
/// head is logged and ends the body with an error, which makes the server drop the
/// connection mid-body (see [`respond`]).
fn csv_body(
    head: Bytes,
    next_number: u64,
    rows: PageStream,
    permit: ExportPermit,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    let state = CsvBody {
        rows,
        next_number,
        // The body is sent after the handler returns: keep the request's span for the log.
        span: tracing::Span::current(),
        _permit: permit,
    };
    let rest = stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let rows_sent = state.next_number - 1;
        let page = match state.rows.next().await? {
            Ok(page) => page,
            Err(error) => return Some((Err(stop(&state, error, rows_sent)), None)),
        };
        match csv_rows(&page, state.next_number) {
            Ok(bytes) => {
                state.next_number += page.len() as u64;
                Some((Ok(Bytes::from(bytes)), Some(state)))
            }
            Err(error) => Some((Err(stop(&state, error.into(), rows_sent)), None)),
        }
    });
    stream::once(std::future::ready(Ok(head))).chain(rest)
}

/// Logs why a streamed export stopped and gives the error that aborts the body.
fn stop(state: &CsvBody, error: ApiError, rows_sent: u64) -> std::io::Error {
    state.span.in_scope(|| {
        tracing::error!(
            error = %cause_chain(&error),
            rows_sent,
            "the CSV export stopped midway; the client gets a truncated download"
        );
    });
    std::io::Error::other("the export stopped midway")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Scope;
    use entity::user::Role;

    fn principal(id: Uuid) -> Principal {
        Principal {
            actor: Actor::User { id },
            role: Role::Viewer,
            scope: Scope::All,
        }
    }

    fn row(matter: &str) -> ExportRow {
        ExportRow {
            village: "东关村".to_owned(),
            applicant: "张**".to_owned(),
            matter: matter.to_owned(),
            category: Category::PracticalDifficulty,
            level: Level::Village,
            responsible: "李明".to_owned(),
            deadline: NaiveDate::from_ymd_opt(2026, 12, 1),
            progress: String::new(),
            status: Status::Open,
            overdue: false,
        }
    }

    #[test]
    fn two_exports_run_at_once_and_one_per_caller() {
        let limiter = ExportLimiter::new(2);
        let (first, second, third) = (
            principal(Uuid::new_v4()),
            principal(Uuid::new_v4()),
            principal(Uuid::new_v4()),
        );

        let running = limiter.try_start(&first).expect("first");
        let again = limiter.try_start(&first);
        let other = limiter.try_start(&second).expect("second");
        let full = limiter.try_start(&third);
        drop(running);
        let after = limiter.try_start(&third);

        assert!(matches!(
            again,
            Err(ApiError::TooManyRequests {
                retry_after: RETRY_AFTER_SECONDS
            })
        ));
        assert!(matches!(full, Err(ApiError::TooManyRequests { .. })));
        assert!(after.is_ok(), "a finished export frees its place");
        drop(other);
    }

    #[test]
    fn formats_are_xlsx_by_default_and_anything_else_names_the_parameter() {
        assert_eq!(ExportFormat::parse(None).ok(), Some(ExportFormat::Xlsx));
        assert_eq!(
            ExportFormat::parse(Some("csv")).ok(),
            Some(ExportFormat::Csv)
        );
        match ExportFormat::parse(Some("pdf")) {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "format"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_chinese_file_name_is_percent_encoded_beside_an_ascii_one() {
        let name = DownloadName::new("ledger-2026-11-28", "台账-2026-11-28");
        assert_eq!(
            name.content_disposition(ExportFormat::Xlsx),
            "attachment; filename=\"ledger-2026-11-28.xlsx\"; \
             filename*=UTF-8''%E5%8F%B0%E8%B4%A6-2026-11-28.xlsx"
        );
        assert_eq!(
            DownloadName::new("a\"b c", "x").ascii_stem,
            "a_b_c",
            "nothing that breaks the quoted string"
        );
    }

    #[test]
    fn cells_that_start_like_formulas_are_shown_as_text() {
        for (text, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("路灯 = 坏", "路灯 = 坏"),
        ] {
            assert_eq!(neutralise(text), expected, "{text:?}");
        }
    }

    #[test]
    fn texts_longer_than_a_cell_holds_are_cut() {
        let long = "路".repeat(MAX_CELL_CHARS + 10);
        assert_eq!(cell(&long).chars().count(), MAX_CELL_CHARS);
        assert_eq!(cell("路灯"), "路灯");
    }

    #[test]
    fn csv_lines_are_quoted_where_needed_and_end_in_crlf() {
        let bytes = csv_rows(&[row("a, \"b\"\nc")], 7).expect("csv");
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            "7,东关村,张**,\"a, \"\"b\"\"\nc\",实际困难,村,李明,2026-12-01,,待办\r\n"
        );
        let head = csv_head().expect("head");
        assert!(head.starts_with("\u{feff}序号,村,申请人姓名".as_bytes()));
        assert!(head.ends_with(b"\r\n"));
    }

    #[test]
    fn progress_falls_back_to_the_resolution_of_a_finished_issue() {
        use chrono::Utc;
        let deadlines = Deadlines {
            today: NaiveDate::from_ymd_opt(2026, 11, 28).expect("date"),
            due_soon_days: 3,
        };
        let now = Utc::now();
        let issue = issue::Model {
            id: Uuid::new_v4(),
            county_id: Uuid::new_v4(),
            town_id: Uuid::new_v4(),
            village_id: Uuid::new_v4(),
            visit_id: None,
            channel: entity::visit::Channel::DoorToDoor,
            applicant_household_id: None,
            applicant_name: "王建华".to_owned(),
            applicant_phone: None,
            category: Category::WorkShortcoming,
            matter: "水渠堵塞".to_owned(),
            answered_on_spot: false,
            spot_answer: None,
            level: Level::Village,
            lead_responsible_id: Uuid::new_v4(),
            handler_org_unit_id: Uuid::new_v4(),
            handler_department_id: None,
            named_cadre_id: None,
            deadline: NaiveDate::from_ymd_opt(2026, 11, 1),
            status: Status::Resolved,
            is_deed: false,
            latest_progress: None,
            resolution: Some("已疏通".to_owned()),
            feedback_given: false,
            applicant_satisfied: None,
            resolved_at: Some(now),
            closed_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            change_seq: 1,
            created_seq: 1,
            origin_device: None,
        };
        let mut open = issue.clone();
        open.status = Status::InProgress;

        let resolved = export_row(issue, &HashMap::new(), &HashMap::new(), deadlines, false);
        let late = export_row(open, &HashMap::new(), &HashMap::new(), deadlines, true);

        assert_eq!(resolved.progress, "已疏通");
        assert_eq!(resolved.applicant, "王**");
        assert!(!resolved.overdue, "a resolved issue is not overdue");
        assert_eq!(late.progress, "", "an open issue has no resolution to show");
        assert_eq!(late.applicant, "王建华");
        assert!(late.overdue);
    }

    #[tokio::test]
    async fn a_csv_whose_source_fails_midway_ends_in_an_error_not_a_clean_end() {
        let limiter = ExportLimiter::default();
        let permit = limiter
            .try_start(&principal(Uuid::new_v4()))
            .expect("permit");
        let pages = stream::iter(vec![
            Ok(vec![row("路灯"), row("水渠")]),
            Err(ApiError::Unavailable("database gone".to_owned())),
            Ok(vec![row("never sent")]),
        ]);

        let chunks: Vec<Result<Bytes, std::io::Error>> =
            csv_body(Bytes::from_static(b"head"), 4, Box::pin(pages), permit)
                .collect()
                .await;

        assert_eq!(chunks.len(), 3, "head, one page, then the error");
        assert_eq!(chunks[0].as_ref().ok(), Some(&Bytes::from_static(b"head")));
        let page = chunks[1].as_ref().expect("page");
        assert!(String::from_utf8_lossy(page).starts_with("4,东关村"));
        assert!(String::from_utf8_lossy(page).contains("\r\n5,东关村"));
        assert!(chunks[2].is_err());
        let first = limiter.try_start(&principal(Uuid::new_v4()));
        let second = limiter.try_start(&principal(Uuid::new_v4()));
        assert!(
            first.is_ok() && second.is_ok(),
            "the body's end frees its place"
        );
    }
}
