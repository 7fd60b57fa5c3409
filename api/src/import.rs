//! Bulk import of the household roster from the CSV an office keeps: UTF-8 or GBK, Chinese
//! or English headers, a per-row report, all or nothing, and no duplicates on re-import.
//!
//! The body is held once, as bytes; GBK is decoded as a stream while the CSV is read, so the
//! file is never held a second time as text.

use std::collections::HashMap;

use actix_web::web;
use chrono::Utc;
use entity::{
    household,
    org_unit::{self, OrgKind},
};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    db::begin_write,
    error::{ApiError, ApiResult},
    households::{HouseholdTag, VillagePlace},
    privacy,
};

/// The largest CSV accepted (about 300,000 rows of a typical roster).
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
/// The PostgreSQL advisory lock imports take turns on (an arbitrary constant, "MQIMPORT").
const IMPORT_LOCK: i64 = 0x4D51_494D_504F_5254;
/// Rows per INSERT statement (18 columns: well under both engines' parameter limits).
const INSERT_CHUNK: usize = 500;
/// The most problems a report lists (all are counted): a wrong file of 32 MiB can hold
/// millions, and a person reads the first ones, fixes the cause and sends it again.
pub const PROBLEMS_LISTED: usize = 1_000;

/// How to run an import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Check and report only.
    pub dry_run: bool,
    /// Import the valid rows even if some are invalid.
    pub skip_invalid: bool,
}

/// What an import found and did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The encoding detected: `utf-8` or `gbk`.
    #[schema(example = "gbk")]
    pub encoding: &'static str,
    /// Data rows read (the header and empty rows not counted).
    pub rows: u64,
    /// Households created (with `dry_run`: that would be created).
    pub created: u64,
    /// Rows naming a household that already exists; left unchanged.
    pub existing: Vec<ExistingRow>,
    /// Rows repeating an earlier row of the same file; left out.
    pub duplicates_in_file: Vec<DuplicateRow>,
    /// Problems, one per invalid field, by row: the first 1,000 (`invalid_total` counts them
    /// all); invalid rows are not imported.
    pub invalid: Vec<RowProblem>,
    /// Every problem found, listed or not.
    pub invalid_total: u64,
    /// Columns not recognised, ignored (e.g. 序号).
    pub ignored_columns: Vec<String>,
    /// True when the households were written.
    pub imported: bool,
}

/// A row that names an existing household.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExistingRow {
    /// Row number as in a spreadsheet (the header is row 1).
    pub row: u64,
    /// The household it names.
    pub household_id: Uuid,
    /// `id_card_number`, or `village_head_phone` (same village, head and phone).
    pub matched_by: &'static str,
}

/// A row that repeats an earlier row of the file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateRow {
    /// Row number.
    pub row: u64,
    /// The earlier row it repeats.
    pub same_as_row: u64,
}

/// One problem of one row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowProblem {
    /// Row number: the file's line where the row starts, as a spreadsheet numbers it (1: the
    /// header; blank lines count).
    pub row: u64,
    /// The field, by its API name (`head_name`, `phone`, …).
    pub field: String,
    /// The file's column the field was read from, by its header as written there (`身份证号`,
    /// `联系电话`, …), for the office fixing its spreadsheet; absent for a column the header
    /// lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Stable code: `required`, `invalid_phone`, `invalid_id_card`, `unknown_village`, …
    pub code: String,
    /// For people.
    pub message: String,
}

/// Reads the request body, refusing more than `limit` bytes with 413 as soon as it is
/// exceeded.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> ApiResult<web::Bytes> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest {
            code: "unreadable_body",
            detail: "The request body could not be read.".to_owned(),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The columns an import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Village,
    Town,
    HeadName,
    Phone,
    Address,
    MembersCount,
    IdCardNumber,
    Tags,
    Notes,
    Latitude,
    Longitude,
}

impl Field {
    fn of_header(header: &str) -> Option<Self> {
        let header = header.trim().trim_start_matches('\u{feff}').to_lowercase();
        Some(match header.as_str() {
            "村" | "村名" | "村庄" | "所属村" | "行政村" | "village" | "village_name"
            | "village_code" => Self::Village,
            "镇" | "乡镇" | "所属镇" | "乡镇名称" | "town" => Self::Town,
            "户主姓名" | "户主" | "姓名" | "head_name" | "head" | "name" => Self::HeadName,
            "联系电话" | "电话" | "手机" | "手机号" | "手机号码" | "phone" => {
                Self::Phone
            }
            "住址" | "地址" | "家庭住址" | "address" => Self::Address,
            "家庭人口" | "人口" | "家庭人口数" | "人口数" | "人数" | "members_count"
            | "members" => Self::MembersCount,
            "身份证号" | "身份证号码" | "身份证" | "id_card_number" | "id_card" => {
                Self::IdCardNumber
            }
            "标签" | "走访重点" | "类别" | "户类别" | "tags" => Self::Tags,
            "备注" | "notes" => Self::Notes,
            "纬度" | "latitude" | "lat" => Self::Latitude,
            "经度" | "longitude" | "lng" | "lon" => Self::Longitude,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Village => "village",
            Self::Town => "town",
            Self::HeadName => "head_name",
            Self::Phone => "phone",
            Self::Address => "address",
            Self::MembersCount => "members_count",
            Self::IdCardNumber => "id_card_number",
            Self::Tags => "tags",
            Self::Notes => "notes",
            Self::Latitude => "latitude",
            Self::Longitude => "longitude",
        }
    }
}

/// Finds villages in the caller's scope by code, by name, or by town and name.
#[derive(Debug, Default)]
struct VillageDirectory {
    by_code: HashMap<String, VillagePlace>,
    by_name: HashMap<String, Vec<(String, VillagePlace)>>,
}

impl VillageDirectory {
    async fn load(db: &DatabaseConnection, user: &AuthUser) -> ApiResult<Self> {
        let villages = org_unit::Entity::find()
            .filter(org_unit::Column::Kind.eq(OrgKind::Village))
            .filter(user.scope().org_unit_condition(org_unit::Column::Id))
            .all(db)
            .await?;
        let town_ids: Vec<Uuid> = villages
            .iter()
            .filter_map(|village| village.town_id)
            .collect();
        let town_names: HashMap<Uuid, String> = org_unit::Entity::find()
            .filter(org_unit::Column::Id.is_in(town_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|town| (town.id, town.name))
            .collect();
        let mut directory = Self::default();
        for village in villages {
            let place = VillagePlace {
                county_id: village.county_id,
                town_id: village.town_id.unwrap_or(village.county_id),
                village_id: village.id,
            };
            let town_name = village
                .town_id
                .and_then(|id| town_names.get(&id).cloned())
                .unwrap_or_default();
            directory.by_code.insert(village.code.clone(), place);
            directory
                .by_name
                .entry(village.name.clone())
                .or_default()
                .push((town_name, place));
        }
        Ok(directory)
    }

    fn find(
        &self,
        village: &str,
        town: Option<&str>,
    ) -> Result<VillagePlace, (&'static str, String)> {
        if let Some(place) = self.by_code.get(village) {
            return Ok(*place);
        }
        let candidates = self
            .by_name
            .get(village)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let matching: Vec<&VillagePlace> = candidates
            .iter()
            .filter(|(town_name, _)| town.is_none_or(|town| town_name == town))
            .map(|(_, place)| place)
            .collect();
        match matching.as_slice() {
            [place] => Ok(**place),
            [] => Err((
                "unknown_village",
                format!("No village `{village}` in your scope."),
            )),
            _ => Err((
                "ambiguous_village",
                format!(
                    "Several villages are called `{village}`: add a 镇 column or use the village code."
                ),
            )),
        }
    }
}

/// A valid row, ready to insert.
#[derive(Debug, Clone)]
struct Candidate {
    row: u64,
    place: VillagePlace,
    head_name: String,
    phone: Option<String>,
    address: Option<String>,
    members_count: Option<i32>,
    id_card_number: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    tags: i32,
    notes: Option<String>,
}

impl Candidate {
    fn identity(&self) -> Identity {
        (
            self.place.village_id,
            self.head_name.clone(),
            self.phone.clone().unwrap_or_default(),
        )
    }
}

/// What parsing the file produced.
#[derive(Debug, Default)]
struct Parsed {
    encoding: &'static str,
    rows: u64,
    candidates: Vec<Candidate>,
    invalid: Problems,
    /// Rows with at least one problem.
    invalid_rows: u64,
    ignored_columns: Vec<String>,
    /// Each recognised field's column, by its header as written in the file (the first, if
    /// two mean the same field).
    columns: HashMap<&'static str, String>,
}

/// The problems found: all counted, the first [`PROBLEMS_LISTED`] kept.
#[derive(Debug, Default)]
struct Problems {
    listed: Vec<RowProblem>,
    total: u64,
}

impl Problems {
    fn push(&mut self, problem: RowProblem) {
        self.total += 1;
        if self.listed.len() < PROBLEMS_LISTED {
            self.listed.push(problem);
        }
    }

    fn extend(&mut self, problems: impl IntoIterator<Item = RowProblem>) {
        for problem in problems {
            self.push(problem);
        }
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn any(&self, code: &str) -> bool {
        self.listed.iter().any(|problem| problem.code == code)
    }
}

fn problem(row: u64, field: &str, code: &str, message: impl Into<String>) -> RowProblem {
    RowProblem {
        row,
        field: field.to_owned(),
        column: None,
        code: code.to_owned(),
        message: message.into(),
    }
}

/// A workbook sent as it is saved (an `.xlsx` is a zip, an `.xls` an OLE file) would read as
/// GBK garbage whose header "lacks 村 and 户主姓名": say what it is and what to do instead.
fn refuse_a_workbook(body: &[u8]) -> ApiResult<()> {
    const XLSX: &[u8] = b"PK\x03\x04";
    const XLS: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    if body.starts_with(XLSX) || body.starts_with(XLS) {
        return Err(ApiError::Unprocessable {
            code: "not_csv",
            detail: "This is an Excel workbook, not CSV: open it in Excel or WPS and save it as \
                     CSV (另存为 → CSV), then send that file."
                .to_owned(),
            details: serde_json::json!({}),
        });
    }
    Ok(())
}

/// The stored households a file's rows may name: by identity in the villages the file names,
/// and by ID number anywhere (ID numbers are unique across the deployment).
struct Stored {
    by_identity: HashMap<Identity, Vec<(Uuid, Option<String>)>>,
    by_id_card: HashMap<String, (Uuid, Uuid, String)>,
}

impl Stored {
    async fn read(db: &impl ConnectionTrait, unique: &[Candidate]) -> Result<Self, DbErr> {
        let mut villages: Vec<Uuid> = unique
            .iter()
            .map(|candidate| candidate.place.village_id)
            .collect();
        villages.sort();
        villages.dedup();
        let id_cards: Vec<String> = unique
            .iter()
            .filter_map(|candidate| candidate.id_card_number.clone())
            .collect();
        let mut by_identity: HashMap<Identity, Vec<(Uuid, Option<String>)>> = HashMap::new();
        for chunk in villages.chunks(INSERT_CHUNK) {
            let rows = Self::households(
                db,
                household::Column::VillageId.is_in(chunk.iter().copied()),
            )
            .await?;
            for (id, village_id, head_name, phone, number) in rows {
                by_identity
                    .entry((village_id, head_name, phone.unwrap_or_default()))
                    .or_default()
                    .push((id, number));
            }
        }
        let mut by_id_card = HashMap::new();
        for chunk in id_cards.chunks(INSERT_CHUNK) {
            let rows = Self::households(
                db,
                household::Column::IdCardNumber.is_in(chunk.iter().cloned()),
            )
            .await?;
            for (id, village_id, head_name, _, number) in rows {
                if let Some(number) = number {
                    by_id_card.insert(number, (id, village_id, head_name));
                }
            }
        }
        Ok(Self {
            by_identity,
            by_id_card,
        })
    }

    /// The stored households matching `condition`, as the import compares them.
    async fn households(
        db: &impl ConnectionTrait,
        condition: sea_orm::sea_query::SimpleExpr,
    ) -> Result<Vec<StoredHousehold>, DbErr> {
        household::Entity::find()
            .select_only()
            .columns([
                household::Column::Id,
                household::Column::VillageId,
                household::Column::HeadName,
                household::Column::Phone,
                household::Column::IdCardNumber,
            ])
            .filter(condition)
            .into_tuple()
            .all(db)
            .await
    }
}

/// A household's identity in a roster: its village, head and phone (empty when none).
type Identity = (Uuid, String, String);

/// A stored household as the import compares it: id, village, head, phone, ID number.
type StoredHousehold = (Uuid, Uuid, String, Option<String>, Option<String>);

/// Whether two rows of the same village, head and phone are one household: yes, unless both
/// carry ID numbers and they differ.
fn same_person(one: &Option<String>, other: &Option<String>) -> bool {
    match (one, other) {
        (Some(one), Some(other)) => one == other,
        _ => true,
    }
}

/// The text passed through to the CSV reader, noting in a [`BlankLines`] the runs of blank
/// lines it will skip: a spreadsheet shows each of them as a row, the reader does not count
/// them.
struct Lines<R> {
    inner: R,
    read: u64,
    blanks: std::rc::Rc<std::cell::RefCell<BlankLines>>,
}

impl<R: std::io::Read> std::io::Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        let mut blanks = self.blanks.borrow_mut();
        for (at, byte) in buf[..count].iter().enumerate() {
            blanks.take(*byte, self.read + at as u64);
        }
        self.read += count as u64;
        Ok(count)
    }
}

/// The runs of blank lines read ahead of the rows asked about: where each run starts, how
/// many lines it holds, and where the line after it starts. Lines end at `\n`, `\r\n` or a
/// lone `\r` (as the reader ends them). Rows are asked about in order, and the runs before a
/// row are let go when it is asked about: the index holds no more than the reader's buffer.
#[derive(Debug, Default)]
struct BlankLines {
    runs: std::collections::VecDeque<BlankRun>,
    /// Where the line being read starts, and whether it holds anything yet.
    line_start: u64,
    line_filled: bool,
    /// The last byte was a `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    /// Blank lines before the rows asked about so far.
    skipped: u64,
}

#[derive(Debug, Clone, Copy)]
struct BlankRun {
    start: u64,
    lines: u64,
    next: u64,
}

impl BlankLines {
    fn take(&mut self, byte: u8, offset: u64) {
        match byte {
            b'\n' if self.after_cr => {
                // The `\r` ended the line; the next one starts after this `\n`.
                if let Some(run) = self.runs.back_mut()
                    && run.next == self.line_start
                {
                    run.next = offset + 1;
                }
                self.line_start = offset + 1;
                self.after_cr = false;
            }
            b'\n' | b'\r' => {
                if !self.line_filled {
                    match self.runs.back_mut() {
                        Some(run) if run.next == self.line_start => {
                            run.lines += 1;
                            run.next = offset + 1;
                        }
                        _ => self.runs.push_back(BlankRun {
                            start: self.line_start,
                            lines: 1,
                            next: offset + 1,
                        }),
                    }
                }
                self.line_start = offset + 1;
                self.line_filled = false;
                self.after_cr = byte == b'\r';
            }
            _ => {
                self.line_filled = true;
                self.after_cr = false;
            }
        }
    }

    /// The blank lines before every row so far, the one whose reading began at `byte` (before
    /// the blank lines it skipped) included.
    fn skipped_before(&mut self, byte: u64) -> u64 {
        while let Some(run) = self.runs.front().copied() {
            if run.start > byte + 1 {
                break;
            }
            self.runs.pop_front();
            // The reader began at the run (or at the `\n` of the `\r\n` before it).
            if run.start >= byte {
                self.skipped += run.lines;
            }
        }
        self.skipped
    }
}

/// Parses and checks every row (CPU only; run on the blocking pool).
fn parse(body: &[u8], directory: &VillageDirectory) -> Parsed {
    let mut parsed = Parsed::default();
    let body = body
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(body);
    let reader: Box<dyn std::io::Read + '_> = if std::str::from_utf8(body).is_ok() {
        parsed.encoding = "utf-8";
        Box::new(body)
    } else {
        parsed.encoding = "gbk";
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::GBK))
                .build(body),
        )
    };
    let blanks = std::rc::Rc::new(std::cell::RefCell::new(BlankLines::default()));
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(Lines {
            inner: reader,
            read: 0,
            blanks: std::rc::Rc::clone(&blanks),
        });
    let headers = match csv.headers() {
        Ok(headers) => headers.clone(),
        Err(_) => {
            parsed.invalid.push(problem(
                1,
                "header",
                "unreadable",
                "The first row could not be read as CSV.",
            ));
            return parsed;
        }
    };
    let mut columns: Vec<Option<Field>> = Vec::with_capacity(headers.len());
    for header in &headers {
        let field = Field::of_header(header);
        if field.is_none() && !header.trim().is_empty() {
            parsed.ignored_columns.push(header.trim().to_owned());
        }
        // Two columns for one field (姓名 and 户主姓名): which one is meant cannot be guessed.
        if let Some(field) = field.filter(|field| columns.contains(&Some(*field))) {
            parsed.invalid.push(RowProblem {
                column: Some(header.trim().to_owned()),
                ..problem(
                    1,
                    field.name(),
                    "duplicate_column",
                    format!(
                        "Two columns of the header mean `{}` (the second: {}); keep one.",
                        field.name(),
                        header.trim()
                    ),
                )
            });
        }
        if let Some(field) = field {
            parsed
                .columns
                .entry(field.name())
                .or_insert_with(|| header.trim().trim_start_matches('\u{feff}').to_owned());
        }
        columns.push(field);
    }
    for required in [Field::Village, Field::HeadName] {
        if !columns.contains(&Some(required)) {
            parsed.invalid.push(problem(
                1,
                required.name(),
                "missing_column",
                format!(
                    "The header has no `{}` column (e.g. 村, 户主姓名).",
                    required.name()
                ),
            ));
        }
    }
    if !parsed.invalid.is_empty() {
        return parsed;
    }
    for (index, record) in csv.records().enumerate() {
        // The row as a spreadsheet numbers it: after the header and every record before it
        // (a cell holding line breaks is still one row), and after the blank lines the reader
        // skipped without counting them.
        let line = |position: Option<&csv::Position>| {
            let mut blanks = blanks.borrow_mut();
            let skipped = match position {
                Some(position) => blanks.skipped_before(position.byte()),
                None => blanks.skipped,
            };
            index as u64 + 2 + skipped
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let row = line(error.position());
                parsed.rows += 1;
                parsed.invalid_rows += 1;
                parsed.invalid.push(problem(
                    row,
                    "row",
                    "unreadable",
                    "This row is not valid CSV.",
                ));
                continue;
            }
        };
        let row = line(record.position());
        if record.iter().all(str::is_empty) {
            continue;
        }
        parsed.rows += 1;
        let cell = |wanted: Field| {
            columns
                .iter()
                .zip(record.iter())
                .find(|(field, _)| **field == Some(wanted))
                .map(|(_, value)| value)
                .filter(|value| !value.is_empty())
        };
        match check_row(row, &cell, directory) {
            Ok(candidate) => parsed.candidates.push(candidate),
            Err(problems) => {
                parsed.invalid_rows += 1;
                parsed.invalid.extend(problems);
            }
        }
    }
    parsed
}

/// Checks one row; every problem of the row is reported, not only the first.
fn check_row<'a>(
    row: u64,
    cell: &dyn Fn(Field) -> Option<&'a str>,
    directory: &VillageDirectory,
) -> Result<Candidate, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let place = match cell(Field::Village) {
        None => {
            problems.push(problem(
                row,
                "village",
                "required",
                "The village is missing.",
            ));
            None
        }
        Some(village) => match directory.find(village, cell(Field::Town)) {
            Ok(place) => Some(place),
            Err((code, message)) => {
                problems.push(problem(row, "village", code, message));
                None
            }
        },
    };
    let head_name = match cell(Field::HeadName) {
        None => {
            problems.push(problem(
                row,
                "head_name",
                "required",
                "The head of household is missing.",
            ));
            String::new()
        }
        Some(name) if name.chars().count() > 50 => {
            problems.push(problem(
                row,
                "head_name",
                "too_long",
                "At most 50 characters.",
            ));
            String::new()
        }
        Some(name) => name.to_owned(),
    };
    let phone = cell(Field::Phone).map(|phone| phone.replace(' ', ""));
    if phone
        .as_deref()
        .is_some_and(|phone| !privacy::valid_phone(phone))
    {
        problems.push(problem(
            row,
            "phone",
            "invalid_phone",
            "Not a mobile (11 digits) or a landline (0531-88886666).",
        ));
    }
    let address = cell(Field::Address).map(str::to_owned);
    if address
        .as_deref()
        .is_some_and(|address| address.chars().count() > 200)
    {
        problems.push(problem(
            row,
            "address",
            "too_long",
            "At most 200 characters.",
        ));
    }
    let members_count = match cell(Field::MembersCount) {
        None => None,
        Some(text) => match text.trim_end_matches('人').parse::<i32>() {
            Ok(count) if (1..=99).contains(&count) => Some(count),
            _ => {
                problems.push(problem(
                    row,
                    "members_count",
                    "invalid_number",
                    "A whole number from 1 to 99.",
                ));
                None
            }
        },
    };
    let id_card_number = cell(Field::IdCardNumber).map(privacy::normalise_id_card);
    if id_card_number
        .as_deref()
        .is_some_and(|number| !privacy::valid_id_card(number))
    {
        problems.push(problem(
            row,
            "id_card_number",
            "invalid_id_card",
            "Not an 18-character resident ID number with a valid date and check character.",
        ));
    }
    let mut tags = 0;
    let mut unknown = Vec::new();
    for text in cell(Field::Tags)
        .unwrap_or_default()
        .split(['、', ',', '，', ';', '；', '/', '|', ' '])
        .filter(|text| !text.is_empty() && *text != "群众")
    {
        match HouseholdTag::parse(text) {
            Some(tag) => tags |= tag.bit(),
            None => unknown.push(text),
        }
    }
    // One problem per row, naming the first few: a cell of thousands of unknown words must not
    // become thousands of problems (a 32 MiB file of them would fill the server's memory).
    if let Some(first) = unknown.first() {
        let named = unknown
            .iter()
            .take(3)
            .map(|text| format!("`{text}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let more = match unknown.len() {
            1..=3 => String::new(),
            count => format!(" ({count} in all)"),
        };
        let what = if unknown.len() == 1 {
            format!("Unknown tag `{first}`")
        } else {
            format!("Unknown tags {named}{more}")
        };
        problems.push(problem(
            row,
            "tags",
            "unknown_tag",
            format!("{what}; use 致富能手, 离任村干部, 党员, 有不同意见 or 困难."),
        ));
    }
    let notes = cell(Field::Notes).map(str::to_owned);
    if notes
        .as_deref()
        .is_some_and(|notes| notes.chars().count() > 2000)
    {
        problems.push(problem(
            row,
            "notes",
            "too_long",
            "At most 2000 characters.",
        ));
    }
    let mut coordinate = |field: Field, bound: f64| match cell(field) {
        None => None,
        Some(text) => match text.parse::<f64>() {
            Ok(value) if value.abs() <= bound => Some(value),
            _ => {
                problems.push(problem(
                    row,
                    field.name(),
                    "invalid_number",
                    format!("A number from -{bound} to {bound}."),
                ));
                None
            }
        },
    };
    let latitude = coordinate(Field::Latitude, 90.0);
    let longitude = coordinate(Field::Longitude, 180.0);
    match place {
        Some(place) if problems.is_empty() => Ok(Candidate {
            row,
            place,
            head_name,
            phone,
            address,
            members_count,
            id_card_number,
            latitude,
            longitude,
            tags,
            notes,
        }),
        _ => Err(problems),
    }
}

/// Runs an import: parse and check, find duplicates in the file and in the database, then
/// (unless a dry run, or invalid rows without `skip_invalid`) insert in one transaction.
pub async fn import_households(
    db: &DatabaseConnection,
    user: &AuthUser,
    body: web::Bytes,
    options: ImportOptions,
) -> ApiResult<ImportReport> {
    refuse_a_workbook(&body)?;
    let directory = VillageDirectory::load(db, user).await?;
    let (parsed, file_sha256) = web::block(move || {
        use sha2::Digest;
        (
            parse(&body, &directory),
            format!("{:x}", sha2::Sha256::digest(&body)),
        )
    })
    .await
    .map_err(|error| ApiError::Internal(Box::new(error)))?;
    let mut problems = parsed.invalid;
    let mut invalid_rows = parsed.invalid_rows;
    let mut report = ImportReport {
        dry_run: options.dry_run,
        encoding: parsed.encoding,
        rows: parsed.rows,
        created: 0,
        existing: Vec::new(),
        duplicates_in_file: Vec::new(),
        invalid: Vec::new(),
        invalid_total: 0,
        ignored_columns: parsed.ignored_columns,
        imported: false,
    };

    // Repeats within the file: the first occurrence wins. Two rows of the same village, head
    // and phone are one household, unless both carry ID numbers, and different ones: two
    // people of the same name (common in a village) who share no phone, or none at all.
    let mut first_by_identity: HashMap<Identity, (u64, Option<String>)> = HashMap::new();
    let mut first_by_id_card: HashMap<String, u64> = HashMap::new();
    let mut unique = Vec::with_capacity(parsed.candidates.len());
    for candidate in parsed.candidates {
        let earlier = candidate
            .id_card_number
            .as_ref()
            .and_then(|number| first_by_id_card.get(number).copied())
            .or_else(|| {
                first_by_identity
                    .get(&candidate.identity())
                    .filter(|(_, number)| same_person(number, &candidate.id_card_number))
                    .map(|(row, _)| *row)
            });
        if let Some(same_as_row) = earlier {
            report.duplicates_in_file.push(DuplicateRow {
                row: candidate.row,
                same_as_row,
            });
            continue;
        }
        if let Some(number) = &candidate.id_card_number {
            first_by_id_card.insert(number.clone(), candidate.row);
        }
        first_by_identity
            .entry(candidate.identity())
            .or_insert((candidate.row, candidate.id_card_number.clone()));
        unique.push(candidate);
    }

    // From here on, one write transaction: the duplicate checks and the inserts see the same
    // database, so two imports of the same file cannot both create the same households. On
    // SQLite its writers are serial; on PostgreSQL imports take turns on a transaction-level
    // advisory lock (across every server process), each seeing what the one before stored.
    // A dry run writes nothing and reads without a write turn: on SQLite, checking a large
    // file must not hold the one writer the field's pushes wait for.
    let txn = if options.dry_run {
        None
    } else {
        let txn = begin_write(db).await?;
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({IMPORT_LOCK})"))
                .await?;
        }
        Some(txn)
    };
    let Stored {
        by_identity: stored_by_identity,
        by_id_card: stored_by_id_card,
    } = match &txn {
        Some(txn) => Stored::read(txn, &unique).await?,
        None => Stored::read(db, &unique).await?,
    };
    let mut to_create = Vec::with_capacity(unique.len());
    for candidate in unique {
        if let Some((id, village_id, head_name)) = candidate
            .id_card_number
            .as_ref()
            .and_then(|number| stored_by_id_card.get(number))
        {
            if *village_id == candidate.place.village_id && *head_name == candidate.head_name {
                report.existing.push(ExistingRow {
                    row: candidate.row,
                    household_id: *id,
                    matched_by: "id_card_number",
                });
            } else {
                // Do not say where: the other household may be outside the caller's scope.
                invalid_rows += 1;
                problems.push(problem(
                    candidate.row,
                    "id_card_number",
                    "id_card_taken",
                    "Another household already has this ID number.",
                ));
            }
            continue;
        }
        if let Some((id, _)) = stored_by_identity
            .get(&candidate.identity())
            .and_then(|stored| {
                stored
                    .iter()
                    .find(|(_, number)| same_person(number, &candidate.id_card_number))
            })
        {
            report.existing.push(ExistingRow {
                row: candidate.row,
                household_id: *id,
                matched_by: "village_head_phone",
            });
            continue;
        }
        to_create.push(candidate);
    }
    report.invalid_total = problems.total;
    let header_refused = problems.any("missing_column") || problems.any("duplicate_column");
    report.invalid = problems.listed;
    report.invalid.sort_by_key(|problem| problem.row);
    for problem in report
        .invalid
        .iter_mut()
        .filter(|problem| problem.column.is_none())
    {
        problem.column = parsed.columns.get(problem.field.as_str()).cloned();
    }
    report.created = to_create.len() as u64;

    // A header without the required columns, or with two for one, is a wrong file, not
    // invalid rows: `skip_invalid` does not skip it.
    if header_refused {
        report.created = 0;
        return Err(ApiError::Unprocessable {
            code: "import_rejected",
            detail: "The file's header lacks a required column (村 and 户主姓名) or has two \
                     columns for one field; nothing was imported."
                .to_owned(),
            details: serde_json::to_value(&report).unwrap_or_default(),
        });
    }
    if report.invalid_total > 0 && !options.skip_invalid {
        report.created = 0;
        return Err(ApiError::Unprocessable {
            code: "import_rejected",
            detail: format!(
                "{} problem(s) in the file; nothing was imported. Fix the rows listed in `details.invalid`, or send `skip_invalid=true`.",
                report.invalid_total
            ),
            details: serde_json::to_value(&report).unwrap_or_default(),
        });
    }
    let Some(txn) = txn.filter(|_| !to_create.is_empty()) else {
        return Ok(report);
    };

    let now = Utc::now();
    let created_by = user.user_id().ok();
    // Time-ordered: the trail names the first and the last, and the import's households are
    // those between them that it created.
    let ids: Vec<Uuid> = to_create.iter().map(|_| Uuid::now_v7()).collect();
    for (chunk, chunk_ids) in to_create.chunks(INSERT_CHUNK).zip(ids.chunks(INSERT_CHUNK)) {
        let models = chunk.iter().zip(chunk_ids).map(|(candidate, id)| {
            household::ActiveModel::from(household::Model {
                id: *id,
                county_id: candidate.place.county_id,
                town_id: candidate.place.town_id,
                village_id: candidate.place.village_id,
                head_name: candidate.head_name.clone(),
                phone: candidate.phone.clone(),
                address: candidate.address.clone(),
                members_count: candidate.members_count,
                id_card_number: candidate.id_card_number.clone(),
                latitude: candidate.latitude,
                longitude: candidate.longitude,
                tags: candidate.tags,
                notes: candidate.notes.clone(),
                last_visited_at: None,
                version: 1,
                created_by,
                created_at: now,
                updated_at: now,
                change_seq: 0,
                created_seq: 0,
                origin_device: None,
            })
        });
        household::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry {
            action: "household.import",
            entity_type: "household",
            entity_id: None,
            changes: Some(serde_json::json!({
                "encoding": report.encoding,
                "rows": report.rows,
                "created": report.created,
                "existing": report.existing.len(),
                "duplicates_in_file": report.duplicates_in_file.len(),
                "skipped_invalid_rows": invalid_rows,
                "file_sha256": file_sha256,
                "created_ids": {"first": ids.first(), "last": ids.last()},
            })),
        },
    )
    .await?;
    crate::db::commit(txn).await?;
    report.imported = true;
    Ok(report)
}

#[cfg(test)]
mod proptests {
    //! The CSV parser over arbitrary files: whatever the bytes (UTF-8, GBK, a BOM, garbage,
    //! broken quoting), it answers with a report and never panics, and every data row it
    //! counts ends up either a candidate or at least one problem.

    use std::collections::BTreeSet;

    use proptest::{
        prelude::*,
        test_runner::{Config, RngAlgorithm, RngSeed},
    };

    use super::*;

    fn config() -> Config {
        Config {
            cases: 300,
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(0x6d69_6e71_696e_6701),
            ..Config::default()
        }
    }

    fn directory() -> VillageDirectory {
        let place = VillagePlace {
            county_id: Uuid::from_u128(1),
            town_id: Uuid::from_u128(2),
            village_id: Uuid::from_u128(3),
        };
        let mut directory = VillageDirectory::default();
        directory.by_code.insert("371526100201".to_owned(), place);
        directory
            .by_name
            .entry("东关村".to_owned())
            .or_default()
            .push(("东岭镇".to_owned(), place));
        directory
    }

    /// Cells that are valid, nearly valid, hostile or odd.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("东关村".to_owned()),
            Just("371526100201".to_owned()),
            Just("张三".to_owned()),
            Just("13812341234".to_owned()),
            Just("11010519491231002x".to_owned()),
            Just("党员、困难".to_owned()),
            Just("3人".to_owned()),
            Just("\"未闭合".to_owned()),
            Just("=cmd|' /C calc'!A0".to_owned()),
            "[0-9]{0,20}",
            "-?[0-9]{0,4}\\.[0-9]{0,4}",
            ".{0,60}",
            "\\PC{0,8}",
        ]
    }

    /// A file: a header naming some known columns (and junk), then rows of [`cell`]s joined
    /// with commas, maybe quoted, maybe with a BOM, maybe encoded as GBK.
    fn csv_file() -> impl Strategy<Value = Vec<u8>> {
        let header = prop::collection::vec(
            prop_oneof![
                Just("村"),
                Just("镇"),
                Just("户主姓名"),
                Just("联系电话"),
                Just("家庭人口"),
                Just("身份证号"),
                Just("标签"),
                Just("纬度"),
                Just("经度"),
                Just("备注"),
                Just("序号"),
                Just(""),
            ],
            0..10,
        );
        let rows = prop::collection::vec(prop::collection::vec(cell(), 0..12), 0..20);
        (header, rows, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(header, rows, bom, gbk, quoted)| {
                let quote = |cell: &str| {
                    if quoted {
                        format!("\"{}\"", cell.replace('"', "\"\""))
                    } else {
                        cell.to_owned()
                    }
                };
                let mut text = header.join(",");
                for row in rows {
                    text.push('\n');
                    text.push_str(
                        &row.iter()
                            .map(|cell| quote(cell))
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                }
                let mut bytes = if bom {
                    b"\xEF\xBB\xBF".to_vec()
                } else {
                    Vec::new()
                };
                if gbk {
                    bytes.extend_from_slice(&encoding_rs::GBK.encode(&text).0);
                } else {
                    bytes.extend_from_slice(text.as_bytes());
                }
                bytes
            },
        )
    }

    /// What every report must satisfy, whatever the input.
    fn check_report(body: &[u8], parsed: &Parsed) -> Result<(), TestCaseError> {
        let without_bom = body
            .strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .unwrap_or(body);
        let expected = if std::str::from_utf8(without_bom).is_ok() {
            "utf-8"
        } else {
            "gbk"
        };
        prop_assert_eq!(parsed.encoding, expected);
        prop_assert!(parsed.invalid.listed.iter().all(|problem| problem.row >= 1));
        if parsed.invalid.listed.iter().any(|problem| problem.row == 1) {
            // The header is unusable: nothing else is read.
            prop_assert!(parsed.candidates.is_empty());
            prop_assert_eq!(parsed.rows, 0);
        } else {
            let problem_rows: BTreeSet<u64> = parsed
                .invalid
                .listed
                .iter()
                .map(|problem| problem.row)
                .collect();
            prop_assert_eq!(
                parsed.candidates.len() as u64 + parsed.invalid_rows,
                parsed.rows,
                "each counted row is a candidate or has problems, never both"
            );
            if parsed.invalid.total <= PROBLEMS_LISTED as u64 {
                prop_assert_eq!(problem_rows.len() as u64, parsed.invalid_rows);
            }
            for candidate in &parsed.candidates {
                prop_assert!(!problem_rows.contains(&candidate.row));
                prop_assert!(!candidate.head_name.is_empty());
                if let Some(number) = &candidate.id_card_number {
                    prop_assert!(privacy::valid_id_card(number));
                }
                if let Some(phone) = &candidate.phone {
                    prop_assert!(privacy::valid_phone(phone));
                }
            }
        }
        Ok(())
    }

    /// The rows of `body` with a problem (a bad phone), as the report numbers them.
    fn problem_rows(body: &str) -> Vec<u64> {
        parse(body.as_bytes(), &directory())
            .invalid
            .listed
            .iter()
            .map(|problem| problem.row)
            .collect()
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_shows_the_file() {
        let bad = "东关村,张三,123";
        // Blank lines count; a cell holding line breaks is one row; an all-empty row counts.
        assert_eq!(
            problem_rows(&format!(
                "村,户主姓名,电话\n{bad}\n\n\n{bad}\n\"东关村\",\"李\n四\",123\n,,\n{bad}\n"
            )),
            [2, 5, 6, 8]
        );
        // Windows line ends, and a lone CR (an old Mac's CSV).
        assert_eq!(
            problem_rows(&format!("村,户主姓名,电话\r\n{bad}\r\n\r\n{bad}\r\n")),
            [2, 4]
        );
        assert_eq!(
            problem_rows(&format!("村,户主姓名,电话\r{bad}\r\r{bad}\r")),
            [2, 4]
        );
    }

    #[test]
    fn a_file_of_blank_lines_keeps_no_index_of_them() {
        let body = format!("村,户主姓名\n{}", "\n".repeat(100_000));
        let blanks = std::rc::Rc::new(std::cell::RefCell::new(BlankLines::default()));
        let mut reader = Lines {
            inner: body.as_bytes(),
            read: 0,
            blanks: std::rc::Rc::clone(&blanks),
        };
        std::io::copy(&mut reader, &mut std::io::sink()).expect("read");
        assert_eq!(blanks.borrow().runs.len(), 1, "one run, however long");
        assert_eq!(blanks.borrow().runs[0].lines, 100_000);
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn arbitrary_bytes_give_a_report_never_a_panic(
            body in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let parsed = parse(&body, &directory());
            check_report(&body, &parsed)?;
        }

        #[test]
        fn csv_like_files_in_either_encoding_give_a_consistent_report(body in csv_file()) {
            let parsed = parse(&body, &directory());
            check_report(&body, &parsed)?;
        }

        #[test]
        fn a_valid_header_followed_by_garbage_reports_row_by_row(
            garbage in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut body = "村,户主姓名,联系电话\n东关村,张三,13812341234\n".as_bytes().to_vec();
            body.extend_from_slice(&garbage);
            let parsed = parse(&body, &directory());
            check_report(&body, &parsed)?;
        }
    }
}
