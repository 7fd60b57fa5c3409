//! Multi-row INSERTs with bound values: rows are collected per table and written
//! [`ROWS_PER_STATEMENT`] at a time, always with the same statement text so that the
//! connection's prepared statement is reused.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// Rows per INSERT. The widest table (`issues`, 33 columns) then binds 16,500 values: under
/// SQLite's limit of 32,766 bound parameters and PostgreSQL's 65,535.
pub const ROWS_PER_STATEMENT: usize = 500;

/// The rows waiting to be inserted into one table.
pub struct Bulk {
    table: &'static str,
    columns: &'static [&'static str],
    backend: DbBackend,
    full_statement: Option<String>,
    values: Vec<Value>,
    /// Rows written so far.
    pub inserted: u64,
}

impl Bulk {
    /// An empty batch for `table` with these columns.
    pub fn new(backend: DbBackend, table: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            backend,
            full_statement: None,
            values: Vec::new(),
            inserted: 0,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// Adds one row; its values are in the order of the columns.
    pub fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert_eq!(
            N,
            self.columns.len(),
            "{}: wrong number of values",
            self.table
        );
        self.values.extend(row);
    }

    /// Takes the waiting rows out into a batch of their own (to be written elsewhere, e.g. by
    /// another task while more rows are collected here); they count as inserted here.
    pub fn take(&mut self) -> Self {
        self.inserted += self.pending() as u64;
        Self {
            table: self.table,
            columns: self.columns,
            backend: self.backend,
            full_statement: self.full_statement.clone(),
            values: std::mem::take(&mut self.values),
            inserted: 0,
        }
    }

    /// Rows waiting.
    pub fn pending(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    /// Writes every waiting row: full statements of [`ROWS_PER_STATEMENT`] rows, then one
    /// shorter statement for the rest.
    pub async fn flush(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let width = self.columns.len();
        let values = std::mem::take(&mut self.values);
        let rows = values.len() / width;
        let mut values = values.into_iter();
        let mut written = 0;
        while written < rows {
            let count = (rows - written).min(ROWS_PER_STATEMENT);
            let sql = if count == ROWS_PER_STATEMENT {
                self.full_statement
                    .get_or_insert_with(|| {
                        insert_sql(self.backend, self.table, self.columns, ROWS_PER_STATEMENT)
                    })
                    .clone()
            } else {
                insert_sql(self.backend, self.table, self.columns, count)
            };
            let chunk: Vec<Value> = values.by_ref().take(count * width).collect();
            db.execute_raw(Statement::from_sql_and_values(self.backend, sql, chunk))
                .await?;
            written += count;
        }
        self.inserted += rows as u64;
        Ok(())
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…)` with `rows` rows of placeholders.
pub fn insert_sql(backend: DbBackend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut next = 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&next.to_string());
                }
                _ => sql.push('?'),
            }
            next += 1;
        }
        sql.push(')');
    }
    sql
}

/// Rewrites the `?` placeholders of hand-written SQL into `$1, $2, …` for PostgreSQL.
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut next = 1;
    for character in sql.chars() {
        if character == '?' {
            out.push('$');
            out.push_str(&next.to_string());
            next += 1;
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_number_their_placeholders_per_engine() {
        assert_eq!(
            insert_sql(DbBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql(DbBackend::Sqlite, "t", &["a"], 2),
            "INSERT INTO t (a) VALUES (?), (?)"
        );
        assert_eq!(
            placeholders(DbBackend::Postgres, "a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
    }
}
