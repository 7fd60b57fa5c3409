//! The markdown report: one dated section per run, appended to `BENCHMARKS.md`.

use std::{fmt::Write as _, path::Path};

use chrono::Utc;

use crate::{BenchResult, county::County};

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// Minqing's figure (through HTTP).
    pub api: String,
    /// The raw database's figure for the same work, or `–`.
    pub raw: String,
    /// API / raw (latency: lower is better; throughput: higher is better).
    pub ratio: Option<f64>,
    /// The target.
    pub target: String,
    /// Whether the target is met; none when there is no target.
    pub met: Option<bool>,
    /// What the figures cover.
    pub note: String,
}

/// `p50 1.2 ms · p99 3.4 ms`.
pub fn latency(p50: f64, p99: f64) -> String {
    format!("p50 {} · p99 {}", ms(p50), ms(p99))
}

/// Milliseconds, with sensible precision.
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// A count with thousands separators: `1,000,000`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// What the section header says about the run.
pub struct RunInfo<'a> {
    /// `SQLite` or `PostgreSQL`.
    pub engine: &'a str,
    /// The command, as typed (database URL elided).
    pub command: String,
    /// The scale.
    pub scale: f64,
    /// The seed.
    pub seed: u64,
    /// The generated county.
    pub county: &'a County,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} GiB RAM", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown RAM".to_owned());
    format!("{cores} cores ({cpu}), {memory}")
}

/// The section: header, generator line, table.
pub fn section(info: &RunInfo<'_>, rows: &[Row]) -> BenchResult<String> {
    let county = info.county;
    let mut text = String::new();
    writeln!(
        text,
        "\n## County benchmark — {} — {}\n",
        info.engine,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(
        text,
        "Machine: {}; client, server and database share it, and other work was running on it: \
         figures are indicative, compare only within a run. Command: `{}`. Engine: {}. \
         Scale {} (seed {}).\n",
        machine(),
        info.command,
        info.engine,
        info.scale,
        info.seed
    )?;
    let rows_text: Vec<String> = county
        .rows
        .iter()
        .filter(|(_, rows)| *rows > 0)
        .map(|(table, rows)| format!("{} {table}", self::count(*rows)))
        .collect();
    let issues = county.issues;
    writeln!(
        text,
        "Generated straight into the database: {} — {} rows in {:.1} s ({} rows/s). Issues: {} in \
         the ledger ({} open, {} in progress, {} resolved awaiting feedback, {} resolved and \
         told, {} struck off; {} overdue, {} escalated, {} deeds) and {} answered on the spot.\n",
        rows_text.join(", "),
        self::count(county.total_rows()),
        county.elapsed.as_secs_f64(),
        self::count((county.total_rows() as f64 / county.elapsed.as_secs_f64().max(1e-9)) as u64),
        self::count(issues.ledger()),
        self::count(issues.open),
        self::count(issues.in_progress),
        self::count(issues.awaiting_feedback),
        self::count(issues.told),
        self::count(issues.closed),
        self::count(issues.overdue),
        self::count(issues.escalated),
        self::count(issues.deeds),
        self::count(issues.on_the_spot),
    )?;
    writeln!(
        text,
        "| scenario | Minqing (HTTP) | raw database, same run | API / raw | target | met? | notes |"
    )?;
    writeln!(text, "| --- | --- | --- | --- | --- | --- | --- |")?;
    for row in rows {
        writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.api,
            row.raw,
            row.ratio
                .map_or("–".to_owned(), |ratio| format!("{ratio:.2}×")),
            row.target,
            match row.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "–",
            },
            row.note
        )?;
    }
    Ok(text)
}

/// Appends the section to the report file (created with a title when missing).
pub fn append(path: &Path, section: &str) -> BenchResult<()> {
    let mut existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures from `cargo run --release -p bench`, newest last. Compare only rows of the same run.\n".to_owned()
    });
    existing.push_str(section);
    std::fs::write(path, existing)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}
