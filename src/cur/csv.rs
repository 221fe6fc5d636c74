//! Streaming CSV decoding (`*.csv.gz` as Data Exports writes it, or plain `*.csv`): one record at a
//! time, columns selected by header name, rows handed to a [`RowSink`].
//!
//! Map columns (`product`, `tags`) are JSON objects in a cell and timestamps are ISO-8601 text
//! (seen in third-party parsers and fixtures; AWS's Data Exports user guide documents the column
//! types, not their CSV text form).
//!
//! Records are found by our own scanner rather than the `csv` crate: it looks only for quotes and
//! newlines (and counts separators outside quotes, so every record is checked against the
//! header), then searches the raw record for the Bedrock product codes before anything is split.
//! 99 % of a typical bill's records are ruled out by that one search; the `csv` crate would split
//! and unescape every record first. Records that may be Bedrock are split with `csv_core`
//! (RFC 4180: quoted commas, `""` escapes, quoted newlines). Measured when it was written: the
//! scanner read a 1 GB CSV.gz export in about half the time of a `csv::Reader` loop.

use std::io::Read;

use super::CurError;
use super::columns::{self as col, Projection};
use super::row::{CurRow, FileStats, RowSink};
use super::time::parse_iso8601_ms;

/// Counts the bytes pulled through a reader, and remembers an error of the reader itself (the
/// object's bytes did not arrive) apart from what the decoders make of the bytes.
struct Counting<R> {
    inner: R,
    count: u64,
    failed: Option<String>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            // The whole chain: a body error's own text is often just "streaming error".
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let t = c.to_string();
                if !text.contains(&t) {
                    text = format!("{text}: {t}");
                }
                cause = c.source();
            }
            self.failed = Some(text);
        })?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads a CSV data file, gzip-compressed when `gzip`; `object` names it in errors. Decodes the
/// daemon's columns ([`Projection::Daemon`]).
pub fn read<R: Read>(
    input: R,
    gzip: bool,
    object: &str,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    read_projected(input, gzip, object, Projection::Daemon, sink)
}

/// [`read`], decoding the columns of `projection`.
pub fn read_projected<R: Read>(
    input: R,
    gzip: bool,
    object: &str,
    projection: Projection,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let mut counting = Counting {
        inner: input,
        count: 0,
        failed: None,
    };
    let result = (|| {
        use std::io::BufRead;
        let mut buffered = std::io::BufReader::with_capacity(1 << 16, &mut counting);
        let empty = buffered
            .fill_buf()
            .map_err(|e| csv_err(object, 1, format!("cannot read: {e}")))?
            .is_empty();
        if empty {
            // A zero-byte object (a stale chunk "overwritten with empty data"): no rows.
            Ok(FileStats::default())
        } else if gzip {
            read_records(
                flate2::read::MultiGzDecoder::new(buffered),
                gzip,
                object,
                projection,
                sink,
            )
        } else {
            read_records(buffered, gzip, object, projection, sink)
        }
    })();
    let stats = match (result, counting.failed.take()) {
        // The bytes did not arrive (a connection reset or cut mid-body): a read error, not a
        // damaged file.
        (Err(_), Some(reason)) => {
            return Err(CurError::Io {
                object: object.to_string(),
                source: std::io::Error::other(format!(
                    "reading the object failed after {} bytes: {reason}; the billing period keeps its last good data and the next refresh reads it again",
                    counting.count
                )),
            });
        }
        (result, _) => result?,
    };
    Ok(FileStats {
        bytes: counting.count,
        ..stats
    })
}

/// A record whose number of fields differs from the header's.
fn ragged(object: &str, line: u64, found: usize, header: usize) -> CurError {
    csv_err(
        object,
        line,
        format!(
            "found {found} fields, the header has {header}: the file is malformed or was cut; re-sync it from the bucket"
        ),
    )
}

/// A record that ends before its line does (see [`FieldSplitter::split`]).
fn early_end(object: &str, line: u64) -> CurError {
    csv_err(
        object,
        line,
        "the record ends before its line does (a bare carriage return, or a quote inside an unquoted field): the file is malformed; re-sync it from the bucket",
    )
}

fn csv_err(object: &str, line: u64, message: impl Into<String>) -> CurError {
    CurError::Csv {
        object: object.to_string(),
        line,
        message: message.into(),
    }
}

/// Splits a byte stream into CSV records (RFC 4180: a newline inside quotes does not end a record)
/// without parsing their fields, so records the prefilter rules out cost one scan.
struct Records<R> {
    input: R,
    buf: Vec<u8>,
    /// `buf[start..filled]` holds unread bytes; `scan` is where the search for the record end resumes.
    start: usize,
    scan: usize,
    filled: usize,
    in_quotes: bool,
    /// Newlines inside quoted fields of the record being scanned.
    inner_newlines: u64,
    /// Field separators outside quotes in the record being scanned.
    commas: usize,
    eof: bool,
}

impl<R: Read> Records<R> {
    fn new(input: R) -> Self {
        Records {
            input,
            buf: vec![0; 1 << 20],
            start: 0,
            scan: 0,
            filled: 0,
            in_quotes: false,
            inner_newlines: 0,
            commas: 0,
            eof: false,
        }
    }

    /// The next record (with its line terminator): its bytes, the number of lines it spans and
    /// its number of fields (counted outside quotes, so every record is checked against the
    /// header without being split).
    fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        loop {
            while let Some(i) = memchr::memchr2(b'"', b'\n', &self.buf[self.scan..self.filled]) {
                let at = self.scan + i;
                if !self.in_quotes {
                    self.commas += memchr::memchr_iter(b',', &self.buf[self.scan..at]).count();
                }
                self.scan = at + 1;
                if self.buf[at] == b'"' {
                    self.in_quotes = !self.in_quotes;
                } else if self.in_quotes {
                    self.inner_newlines += 1;
                } else {
                    let range = self.start..at + 1;
                    self.start = at + 1;
                    return Ok(Some(self.take(range)));
                }
            }
            if !self.in_quotes {
                self.commas += memchr::memchr_iter(b',', &self.buf[self.scan..self.filled]).count();
            }
            self.scan = self.filled;
            if self.eof {
                if self.start < self.filled {
                    let range = self.start..self.filled;
                    self.start = self.filled;
                    return Ok(Some(self.take(range)));
                }
                return Ok(None);
            }
            // Keep the partial record, make room, read more.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.filled, 0);
                self.filled -= self.start;
                self.scan -= self.start;
                self.start = 0;
            }
            if self.filled == self.buf.len() {
                let grow = self.buf.len();
                self.buf.resize(grow * 2, 0);
            }
            let n = self.input.read(&mut self.buf[self.filled..])?;
            if n == 0 {
                self.eof = true;
            }
            self.filled += n;
        }
    }
}

/// One record found by [`Records`].
struct Record {
    range: std::ops::Range<usize>,
    lines: u64,
    fields: usize,
}

impl<R> Records<R> {
    fn take(&mut self, range: std::ops::Range<usize>) -> Record {
        Record {
            range,
            lines: 1 + std::mem::take(&mut self.inner_newlines),
            fields: 1 + std::mem::take(&mut self.commas),
        }
    }
}

/// Splits one record into fields (unquoted, unescaped) with `csv_core`.
struct FieldSplitter {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl FieldSplitter {
    fn new() -> Self {
        FieldSplitter {
            core: csv_core::Reader::new(),
            out: vec![0; 1 << 12],
            ends: vec![0; 256],
        }
    }

    /// Splits `record`; returns the number of fields, or `None` when `csv_core` ends the record
    /// before its last byte: a bare carriage return (a record terminator to RFC 4180 readers) or
    /// a quote inside an unquoted field (which [`Records`] took as opening a quoted field) made
    /// the scanner and the splitter see different records, and reading on would drop the rest.
    fn split(&mut self, record: &[u8]) -> Option<usize> {
        use csv_core::ReadRecordResult::*;
        self.core.reset();
        if self.out.len() < record.len() + 1 {
            self.out.resize(record.len() + 1, 0);
        }
        let (mut input, mut nout, mut nend) = (record, 0, 0);
        loop {
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            input = &input[nin..];
            nout += o;
            nend += e;
            match res {
                InputEmpty if input.is_empty() => {
                    // No terminator (last record of the file): flush.
                    input = &[];
                    let (res, _, o, e) =
                        self.core
                            .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
                    nout += o;
                    nend += e;
                    if matches!(res, Record | End) {
                        return Some(nend);
                    }
                }
                InputEmpty => {}
                OutputFull => {
                    let l = self.out.len();
                    self.out.resize(l * 2, 0);
                }
                OutputEndsFull => {
                    let l = self.ends.len();
                    self.ends.resize(l * 2, 0);
                }
                Record | End => {
                    return input
                        .iter()
                        .all(|b| matches!(b, b'\r' | b'\n'))
                        .then_some(nend);
                }
            }
        }
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }
}

fn read_records(
    reader: impl Read,
    gzip: bool,
    object: &str,
    projection: Projection,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let io_err = |line: u64, io: std::io::Error| {
        let message = if gzip {
            format!(
                "cannot decompress: {io} (is it a complete gzip file? re-sync it from the bucket)"
            )
        } else {
            format!("cannot read: {io}")
        };
        csv_err(object, line.max(1), message)
    };
    let mut records = Records::new(reader);
    let mut fields = FieldSplitter::new();
    let Some(Record {
        range: header_range,
        lines: mut line,
        ..
    }) = records.next_record().map_err(|e| io_err(1, e))?
    else {
        // An empty file (AWS overwrites stale chunks "with empty data"): no rows.
        return Ok(FileStats::default());
    };
    // A UTF-8 byte-order mark (spreadsheet tools write one) is not part of the first column's name.
    let header = &records.buf[header_range];
    let header_bytes = header
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(header)
        .to_vec();
    let n_header = fields
        .split(&header_bytes)
        .ok_or_else(|| early_end(object, 1))?;
    let headers: Vec<String> = (0..n_header)
        .map(|i| String::from_utf8_lossy(fields.field(i)).trim().to_string())
        .collect();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Ok(FileStats::default());
    }
    let idx = |name: &str| headers.iter().position(|h| h == name);
    for &column in col::REQUIRED {
        if idx(column).is_none() {
            return Err(CurError::MissingColumn {
                object: object.to_string(),
                column,
            });
        }
    }
    let mut missing = Vec::new();
    // Each column's index in the record, in the order of `columns::ALL`; `None` for a column
    // the projection leaves out.
    let at: [Option<usize>; col::ALL.len()] = col::ALL.map(|name| {
        if !projection.includes(name) {
            return None;
        }
        let i = idx(name);
        if i.is_none() && name != col::PRODUCT_PRODUCT_NAME && name != col::PRODUCT {
            missing.push(name);
        }
        i
    });
    macro_rules! at {
        ($c:ident) => {
            at[const { col::position(col::$c) }]
        };
    }
    // Consecutive line items mostly share a usage start: parse each distinct text once.
    let mut last_start: (Vec<u8>, Option<i64>) = (Vec::new(), None);

    // Raw prefilter: a record can only be wanted if it contains one of the wanted values.
    let needles: Option<Vec<memchr::memmem::Finder<'static>>> = sink.prefilter().map(|p| {
        // One search for the product codes' common prefix ("AmazonBedrock") when they share one.
        let prefix = p.product_codes.iter().skip(1).fold(
            p.product_codes.first().copied().unwrap_or(""),
            |acc, c| {
                let n = acc
                    .bytes()
                    .zip(c.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &acc[..n]
            },
        );
        let codes: Vec<&str> = if prefix.len() >= 6 {
            vec![prefix]
        } else {
            p.product_codes.to_vec()
        };
        codes
            .into_iter()
            .chain(p.billing_entities.iter().copied())
            .map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned())
            .collect()
    });

    let mut stats = FileStats {
        missing_columns: missing,
        ..FileStats::default()
    };
    loop {
        let record_line = line + 1;
        let Some(record) = records.next_record().map_err(|e| io_err(record_line, e))? else {
            break;
        };
        line += record.lines;
        let rec = &records.buf[record.range];
        if rec.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        if record.fields != headers.len() {
            return Err(ragged(object, record_line, record.fields, headers.len()));
        }
        stats.rows += 1;
        let maybe = needles
            .as_ref()
            .is_none_or(|ns| ns.iter().any(|f| f.find(rec).is_some()));
        if !maybe {
            continue;
        }
        let n = fields
            .split(rec)
            .ok_or_else(|| early_end(object, record_line))?;
        if n != headers.len() {
            return Err(ragged(object, record_line, n, headers.len()));
        }
        let mut texts = [""; col::ALL.len()];
        for (slot, c) in texts.iter_mut().zip(at) {
            if let Some(i) = c {
                *slot = std::str::from_utf8(fields.field(i)).map_err(|_| {
                    csv_err(
                        object,
                        record_line,
                        format!("column {}: not valid UTF-8", headers[i]),
                    )
                })?;
            }
        }
        macro_rules! cell {
            ($c:ident) => {
                texts[const { col::position(col::$c) }]
            };
        }
        let (pc, be) = (cell!(PRODUCT_CODE), cell!(BILLING_ENTITY));
        if !sink.wants(pc, be) {
            continue;
        }
        let usage_end_ms = match cell!(USAGE_END_DATE).trim() {
            "" => None,
            t => Some(parse_iso8601_ms(t).ok_or_else(|| {
                csv_err(
                    object,
                    record_line,
                    format!(
                        "column {}: {t:?} is not an ISO-8601 timestamp",
                        col::USAGE_END_DATE
                    ),
                )
            })?),
        };
        let float = |cell: &str, present: bool, name: &str| -> Result<Option<f64>, CurError> {
            match cell.trim() {
                "" => Ok(None),
                _ if !present => Ok(None),
                s => s.parse::<f64>().map(Some).map_err(|_| {
                    csv_err(
                        object,
                        record_line,
                        format!("column {name}: {s:?} is not a number"),
                    )
                }),
            }
        };
        let product_map = match at!(PRODUCT_PRODUCT_NAME) {
            Some(_) => Vec::new(),
            None => json_map(
                at!(PRODUCT).map(|_| cell!(PRODUCT)),
                object,
                record_line,
                col::PRODUCT,
            )?,
        };
        let product_name = match at!(PRODUCT_PRODUCT_NAME) {
            Some(_) => Some(cell!(PRODUCT_PRODUCT_NAME)),
            None => product_map
                .iter()
                .find(|(k, _)| k == col::PRODUCT_NAME_KEY)
                .map(|(_, v)| v.as_str()),
        };
        let tags_owned = json_map(
            at!(TAGS).map(|_| cell!(TAGS)),
            object,
            record_line,
            col::TAGS,
        )?;
        let tags: Vec<(&str, &str)> = tags_owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        sink.row(&CurRow {
            product_code: pc,
            billing_entity: be,
            line_item_type: cell!(LINE_ITEM_TYPE),
            usage_type: cell!(USAGE_TYPE),
            iam_principal: at!(IAM_PRINCIPAL).map(|_| cell!(IAM_PRINCIPAL)),
            usage_account_id: cell!(USAGE_ACCOUNT_ID),
            payer_account_id: cell!(PAYER_ACCOUNT_ID),
            currency: cell!(CURRENCY_CODE),
            product_region_code: cell!(PRODUCT_REGION_CODE),
            pricing_unit: cell!(PRICING_UNIT),
            product_name,
            unblended_cost: float(cell!(UNBLENDED_COST), true, col::UNBLENDED_COST)?.unwrap_or(0.0),
            net_unblended_cost: float(
                cell!(NET_UNBLENDED_COST),
                at!(NET_UNBLENDED_COST).is_some(),
                col::NET_UNBLENDED_COST,
            )?,
            usage_amount: float(
                cell!(USAGE_AMOUNT),
                at!(USAGE_AMOUNT).is_some(),
                col::USAGE_AMOUNT,
            )?
            .unwrap_or(0.0),
            tags: &tags,
            usage_start_ms: {
                let start = cell!(USAGE_START_DATE).trim();
                if last_start.0 != start.as_bytes() {
                    last_start = (start.as_bytes().to_vec(), parse_iso8601_ms(start));
                }
                last_start.1
            },
            usage_end_ms,
            public_on_demand_cost: float(
                cell!(PUBLIC_ON_DEMAND_COST),
                at!(PUBLIC_ON_DEMAND_COST).is_some(),
                col::PUBLIC_ON_DEMAND_COST,
            )?,
            invoice_id: at!(INVOICE_ID)
                .map(|_| cell!(INVOICE_ID))
                .filter(|s| !s.is_empty()),
            usage_account_name: cell!(USAGE_ACCOUNT_NAME),
            // The line buffer is reused: no address stays a string's.
            strings_epoch: 0,
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    type Collected = (String, String, f64, Vec<(String, String)>);

    #[derive(Default)]
    struct Collect {
        rows: Vec<Collected>,
        newest_end: Option<i64>,
    }

    impl RowSink for Collect {
        fn prefilter(&self) -> Option<crate::cur::Prefilter> {
            Some(crate::cur::Prefilter {
                product_codes: &["AmazonBedrock", "AmazonBedrockService"],
                billing_entities: &["AWS Marketplace"],
            })
        }
        fn wants(&mut self, product_code: &str, billing_entity: &str) -> bool {
            product_code.starts_with("AmazonBedrock") || billing_entity == "AWS Marketplace"
        }
        fn row(&mut self, row: &CurRow<'_>) {
            self.newest_end = self.newest_end.max(row.usage_end_ms);
            self.rows.push((
                row.usage_type.to_string(),
                row.iam_principal.unwrap_or("NULL").to_string(),
                row.unblended_cost,
                row.tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ));
        }
    }

    /// `report`'s columns are decoded with its projection only; the daemon's read ignores them,
    /// whatever they hold.
    #[test]
    fn report_only_columns_follow_the_projection() {
        let body = "line_item_product_code,line_item_unblended_cost,bill_invoice_id,line_item_usage_account_name,pricing_public_on_demand_cost\n\
                    AmazonBedrock,1.5,2026100001,ml-prod,1.75\n\
                    AmazonBedrock,2.5,,ml-batch,\n";
        #[derive(Default)]
        struct Rows(Vec<(Option<String>, String, Option<f64>)>);
        impl RowSink for Rows {
            fn wants(&mut self, _: &str, _: &str) -> bool {
                true
            }
            fn row(&mut self, row: &CurRow<'_>) {
                self.0.push((
                    row.invoice_id.map(str::to_string),
                    row.usage_account_name.to_string(),
                    row.public_on_demand_cost,
                ));
            }
        }
        let mut daemon = Rows::default();
        let stats = read(body.as_bytes(), false, "r.csv", &mut daemon).unwrap();
        assert!(
            stats
                .missing_columns
                .iter()
                .all(|c| !col::REPORT_ONLY.contains(c))
        );
        assert_eq!(
            daemon.0,
            [(None, String::new(), None), (None, String::new(), None)]
        );
        let mut report = Rows::default();
        read_projected(
            body.as_bytes(),
            false,
            "r.csv",
            Projection::Report,
            &mut report,
        )
        .unwrap();
        assert_eq!(
            report.0,
            [
                (Some("2026100001".into()), "ml-prod".into(), Some(1.75)),
                (None, "ml-batch".into(), None)
            ]
        );
        // Without the columns, the report's read says they are missing.
        let bare = "line_item_product_code,line_item_unblended_cost\nAmazonBedrock,1\n";
        let stats = read_projected(
            bare.as_bytes(),
            false,
            "r.csv",
            Projection::Report,
            &mut Rows::default(),
        )
        .unwrap();
        for c in col::REPORT_ONLY {
            assert!(stats.missing_columns.contains(&c), "{c}");
        }
    }

    const HEADER: &str = "line_item_line_item_description,line_item_product_code,bill_billing_entity,line_item_usage_type,line_item_iam_principal,line_item_unblended_cost,line_item_usage_end_date,tags";

    #[test]
    fn quoted_fields_newlines_crlf_and_no_final_newline() {
        let body = format!(
            "{HEADER}\r\n\
             \"$1 per thing, \"\"quoted\"\"\nsecond line\",AmazonEC2,AWS,BoxUsage,,1.5,2026-11-02T00:00:00.000Z,\r\n\
             \"multi\nline\",AmazonBedrockService,AWS,USE1-Claude4.6Sonnet-input-tokens,arn:aws:iam::1:user/a,0.25,2026-11-01T01:00:00.000Z,\"{{\"\"iamPrincipal/team\"\":\"\"a, \\\"\"b\\\"\"\"\"}}\"\r\n\
             plain,AmazonBedrock,AWS,USE1-NovaLite-input-tokens,,0.5,2026-11-01T02:00:00.000Z,"
        );
        let mut sink = Collect::default();
        let stats = read(body.as_bytes(), false, "mem.csv", &mut sink).unwrap();
        assert_eq!(stats.rows, 3);
        // The EC2 row's later end is not read at all: only wanted rows are decoded.
        assert_eq!(
            sink.newest_end,
            parse_iso8601_ms("2026-11-01T02:00:00.000Z")
        );
        assert_eq!(sink.rows.len(), 2);
        assert_eq!(sink.rows[0].0, "USE1-Claude4.6Sonnet-input-tokens");
        assert_eq!(sink.rows[0].2, 0.25);
        assert_eq!(
            sink.rows[0].3,
            vec![("iamPrincipal/team".to_string(), "a, \"b\"".to_string())]
        );
        assert_eq!(sink.rows[1].1, "");
        assert_eq!(sink.rows[1].2, 0.5);
    }

    #[test]
    fn a_short_row_is_an_error_naming_the_line_whether_or_not_it_is_bedrock() {
        // A long quoted first field leaves end offsets behind in the splitter; a later short
        // row must not read them (it once panicked: "slice index starts at 87 but ends at 35").
        for short in [
            "\"q,\",AmazonEC2,AWS,BoxUsage",
            "x,AmazonEC2",
            "x,AmazonBedrock,AWS",
            "\"quoted\"",
        ] {
            let body = format!(
                "{HEADER}\n\"a long, quoted description\",AmazonEC2,AWS,BoxUsage,,1,2026-11-01T00:00:00Z,\n{short}\n"
            );
            let e = read(body.as_bytes(), false, "f.csv", &mut Collect::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("f.csv: line 3: found") && e.contains("the header has 8"),
                "{short}: {e}"
            );
        }
        // A longer row, too.
        let body = format!("{HEADER}\nx,AmazonEC2,AWS,U,,1,2026-11-01T00:00:00Z,,extra\n");
        let e = read(body.as_bytes(), false, "f.csv", &mut Collect::default()).unwrap_err();
        assert!(e.to_string().contains("line 2: found 9 fields"), "{e}");
    }

    #[test]
    fn errors_name_the_line() {
        let body = format!(
            "{HEADER}\nx,AmazonBedrock,AWS,U,,1,2026-11-01T00:00:00Z,\ny,AmazonBedrock,AWS,U,,not-a-number,2026-11-01T00:00:00Z,\n"
        );
        let e = read(body.as_bytes(), false, "f.csv", &mut Collect::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("f.csv: line 3: column line_item_unblended_cost"),
            "{e}"
        );
        let body = format!("{HEADER}\nx,AmazonBedrock,AWS\n");
        let e = read(body.as_bytes(), false, "f.csv", &mut Collect::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("fields"), "{e}");
        let e = read(
            &b"\x1f\x8b\x08garbage"[..],
            true,
            "f.csv.gz",
            &mut Collect::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("gzip"), "{e}");
    }

    #[test]
    fn a_record_the_splitter_ends_early_is_an_error_not_a_lost_row() {
        // Found by the csv_scanner fuzz target: the scanner took `a"b` as opening a quoted field
        // (or did not take a bare CR as a record end) and handed two records as one; the
        // splitter read the first and the second was silently dropped.
        for body in [
            "AmazonBedrock,x\"y,1\nAmazonBedrock,z\"w,2\n",
            "AmazonBedrock,u\rAmazonBedrock,2\n",
        ] {
            let text = format!(
                "line_item_product_code,line_item_usage_type,line_item_unblended_cost\n{body}"
            );
            let e = read(text.as_bytes(), false, "f.csv", &mut Collect::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("f.csv: line 2: the record ends before its line does"),
                "{body:?}: {e}"
            );
        }
        // Quotes inside quoted fields and CRLF endings are fine.
        let text = "line_item_product_code,line_item_usage_type,line_item_unblended_cost\r\nAmazonBedrock,\"x\"\"y\",1\r\n";
        let mut sink = Collect::default();
        read(text.as_bytes(), false, "f.csv", &mut sink).unwrap();
        assert_eq!(sink.rows[0].0, "x\"y");
    }

    #[test]
    fn bytes_that_do_not_arrive_are_a_read_error_not_a_damaged_file() {
        /// Hands out `left` bytes, then fails as a connection reset mid-body does.
        struct Cut<'a>(&'a [u8]);
        impl Read for Cut<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection reset by peer",
                    ));
                }
                let n = buf.len().min(self.0.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let body = format!("{HEADER}\nx,AmazonBedrock,AWS,U,,1,2026-11-01T00:00:00Z,\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, body.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        for (bytes, gzip) in [(body.as_bytes(), false), (&gz[..], true)] {
            let half = &bytes[..bytes.len() / 2];
            let e = read(Cut(half), gzip, "s3://b/f.csv", &mut Collect::default()).unwrap_err();
            assert!(matches!(e, CurError::Io { .. }), "{e:?}");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "s3://b/f.csv: reading the object failed after {} bytes: connection reset by peer",
                    half.len()
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_does_not_rename_the_first_column() {
        let text =
            "\u{feff}line_item_product_code,line_item_unblended_cost\r\nAmazonBedrock,1.5\r\n";
        let mut sink = Collect::default();
        let stats = read(text.as_bytes(), false, "bom.csv", &mut sink).unwrap();
        assert_eq!(stats.rows, 1);
        assert_eq!(sink.rows.len(), 1, "the product code column is found");
        assert_eq!(sink.rows[0].2, 1.5);
    }

    #[test]
    fn empty_files_have_no_rows() {
        assert_eq!(
            read(&b""[..], false, "e.csv", &mut Collect::default())
                .unwrap()
                .rows,
            0
        );
        assert_eq!(
            read(&b""[..], true, "e.csv.gz", &mut Collect::default())
                .unwrap()
                .rows,
            0
        );
    }
}
