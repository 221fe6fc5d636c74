//! Streaming CSV decoding (`*.csv.gz` as Data Exports writes it, or plain `*.csv`): one record at a
//! time, columns selected by header name, rows handed to a [`RowSink`].
//!
//! Map columns (`product`, `tags`) are JSON objects in a cell and timestamps are ISO-8601 text
//! (third-party parsers and fixtures; not documented by AWS, reference §2.4). Quoted fields with
//! commas, quotes and newlines are handled by the `csv` crate (RFC 4180).

use std::io::Read;

use super::CurError;
use super::columns as col;
use super::row::{CurRow, FileStats, RowSink};
use super::time::parse_iso8601_ms;

/// Counts the bytes pulled through a reader.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads a CSV data file, gzip-compressed when `gzip`; `object` names it in errors.
pub fn read<R: Read>(
    input: R,
    gzip: bool,
    object: &str,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let mut counting = Counting {
        inner: input,
        count: 0,
    };
    let stats = {
        let reader: Box<dyn Read + '_> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(
                std::io::BufReader::with_capacity(1 << 16, &mut counting),
            ))
        } else {
            Box::new(std::io::BufReader::with_capacity(1 << 16, &mut counting))
        };
        read_records(reader, gzip, object, sink)?
    };
    Ok(FileStats {
        bytes: counting.count,
        ..stats
    })
}

fn csv_err(object: &str, line: u64, message: impl Into<String>) -> CurError {
    CurError::Csv {
        object: object.to_string(),
        line,
        message: message.into(),
    }
}

fn read_records(
    reader: impl Read,
    gzip: bool,
    object: &str,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let from_csv = |e: ::csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(1).max(1);
        let message = match e.kind() {
            ::csv::ErrorKind::Io(io) if gzip => {
                format!(
                    "cannot decompress: {io} (is it a complete gzip file? re-sync it from the bucket)"
                )
            }
            ::csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
            _ => e.to_string(),
        };
        csv_err(object, line, message)
    };
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        // An empty file (a stale overwrite chunk is "overwritten with empty data"): no rows.
        Err(e) if matches!(e.kind(), ::csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof) =>
        {
            return Err(from_csv(e));
        }
        Err(e) => return Err(from_csv(e)),
    };
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Ok(FileStats::default());
    }
    let idx = |name: &str| headers.iter().position(|h| h.trim() == name);
    for &column in col::REQUIRED {
        if idx(column).is_none() {
            return Err(CurError::MissingColumn {
                object: object.to_string(),
                column,
            });
        }
    }
    let mut missing = Vec::new();
    let mut at = |name: &'static str| {
        let i = idx(name);
        if i.is_none() && name != col::PRODUCT_PRODUCT_NAME && name != col::PRODUCT {
            missing.push(name);
        }
        i
    };
    let c_product_code = at(col::PRODUCT_CODE);
    let c_entity = at(col::BILLING_ENTITY);
    let c_type = at(col::LINE_ITEM_TYPE);
    let c_usage_type = at(col::USAGE_TYPE);
    let c_principal = at(col::IAM_PRINCIPAL);
    let c_account = at(col::USAGE_ACCOUNT_ID);
    let c_currency = at(col::CURRENCY_CODE);
    let c_region = at(col::PRODUCT_REGION_CODE);
    let c_unit = at(col::PRICING_UNIT);
    let c_product = at(col::PRODUCT);
    let c_product_name = at(col::PRODUCT_PRODUCT_NAME);
    let c_unblended = at(col::UNBLENDED_COST);
    let c_net = at(col::NET_UNBLENDED_COST);
    let c_amount = at(col::USAGE_AMOUNT);
    let c_end = at(col::USAGE_END_DATE);
    let c_tags = at(col::TAGS);

    let mut stats = FileStats {
        missing_columns: missing,
        ..FileStats::default()
    };
    let mut record = ::csv::StringRecord::new();
    // ISO-8601 text of one writer sorts like the times it names: keep the greatest, parse once.
    let mut newest_end = String::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(from_csv(e)),
        }
        stats.rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let cell = |c: Option<usize>| c.and_then(|i| record.get(i));
        let text = |c: Option<usize>| cell(c).unwrap_or("");
        let end = text(c_end).trim();
        if end > newest_end.as_str() {
            if parse_iso8601_ms(end).is_none() {
                return Err(csv_err(
                    object,
                    line,
                    format!(
                        "column {}: {end:?} is not an ISO-8601 timestamp",
                        col::USAGE_END_DATE
                    ),
                ));
            }
            newest_end.clear();
            newest_end.push_str(end);
        }
        let pc = text(c_product_code);
        let be = text(c_entity);
        if !sink.wants(pc, be) {
            continue;
        }
        let float = |c: Option<usize>, name: &str| -> Result<Option<f64>, CurError> {
            match cell(c).map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => s.parse::<f64>().map(Some).map_err(|_| {
                    csv_err(
                        object,
                        line,
                        format!("column {name}: {s:?} is not a number"),
                    )
                }),
            }
        };
        let product_map = match cell(c_product_name) {
            Some(_) => Vec::new(),
            None => json_map(cell(c_product), object, line, col::PRODUCT)?,
        };
        let product_name = match cell(c_product_name) {
            Some(n) => Some(n),
            None => product_map
                .iter()
                .find(|(k, _)| k == col::PRODUCT_NAME_KEY)
                .map(|(_, v)| v.as_str()),
        };
        let tags_owned = json_map(cell(c_tags), object, line, col::TAGS)?;
        let tags: Vec<(&str, &str)> = tags_owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();

        sink.row(&CurRow {
            product_code: pc,
            billing_entity: be,
            line_item_type: text(c_type),
            usage_type: text(c_usage_type),
            iam_principal: cell(c_principal),
            usage_account_id: text(c_account),
            currency: text(c_currency),
            product_region_code: text(c_region),
            pricing_unit: text(c_unit),
            product_name,
            unblended_cost: float(c_unblended, col::UNBLENDED_COST)?.unwrap_or(0.0),
            net_unblended_cost: float(c_net, col::NET_UNBLENDED_COST)?,
            usage_amount: float(c_amount, col::USAGE_AMOUNT)?.unwrap_or(0.0),
            tags: &tags,
        });
    }
    stats.newest_usage_end_ms = parse_iso8601_ms(&newest_end);
    Ok(stats)
}

/// A JSON-object cell as `(key, value)` pairs; non-string values keep their JSON text.
fn json_map(
    cell: Option<&str>,
    object: &str,
    line: u64,
    column: &str,
) -> Result<Vec<(String, String)>, CurError> {
    let Some(s) = cell.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(s).map_err(|e| {
        csv_err(
            object,
            line,
            format!("column {column}: not a JSON object: {e}"),
        )
    })?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}
