//! A corpus of bad-input cases, built in code, run against ONE daemon (`serve`) on a good export.
//!
//! Each case breaks the export (adds broken data files and rewrites the manifest to list them, or
//! replaces the manifest itself), makes the daemon reread at once (`POST /-/reload`), and checks the
//! outcome it expects:
//!
//! - an error: the process survives; the log names the object and position and says what to do
//!   (the case's words); `bedrock_exporter_errors_total{stage}` moves; every Bedrock series is
//!   exactly the last good snapshot (nothing partial published); `/readyz` stays 200;
//! - a correct read (inputs that look odd but are valid: BOM, CRLF, concatenated gzip members,
//!   columns in another order, negative zero, NULLs): the case's rows land in their own
//!   `account_id` with the exact expected cost, and every other series is unchanged.
//!
//! After each case the good manifest is put back and the next refresh must give the good numbers
//! again (recovery).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{
    ArrayRef, BinaryArray, Float64Array, Int32Array, Int64Array, MapBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::datatypes::{Field, Schema};
use cur_sample::{ExportSpec, SampleFormat, write_export};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::util::*;

pub const PERIOD: &str = "2026-11";
pub const URI_ROOT: &str = "s3://example-billing-bucket/cur/cur2";

// ---------------------------------------------------------------------------------------------
// Rows of the cases: a small CUR 2.0 column set (the exporter selects columns by name).

pub const HEADER: [&str; 16] = [
    "bill_billing_entity",
    "line_item_product_code",
    "line_item_line_item_type",
    "line_item_usage_type",
    "line_item_iam_principal",
    "line_item_usage_account_id",
    "line_item_currency_code",
    "product_region_code",
    "pricing_unit",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "line_item_usage_amount",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "tags",
    "product",
];

/// One Bedrock line item of `account` costing `cost` (as text), in [`HEADER`] order.
pub fn row(account: &str, cost: &str) -> Vec<String> {
    [
        "AWS",
        "AmazonBedrock",
        "Usage",
        "USE1-Claude4.6Sonnet-input-tokens",
        "arn:aws:iam::111122223333:user/corpus",
        account,
        "USD",
        "us-east-1",
        "1K tokens",
        cost,
        cost,
        "2.5",
        "2026-11-03T00:00:00.000Z",
        "2026-11-03T01:00:00.000Z",
        r#"{"iamPrincipal/team":"corpus"}"#,
        "{}",
    ]
    .map(str::to_string)
    .to_vec()
}

fn quote(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// RFC 4180 text of a header and rows, `\n` terminated.
pub fn csv_text(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        s.push_str(&r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        s.push('\n');
    }
    s
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn csv_gz(rows: &[Vec<String>]) -> Vec<u8> {
    gz(csv_text(&HEADER, rows).as_bytes())
}

/// Parquet columns of rows, as CUR 2.0 types them (strings, doubles, timestamps, map<string,string>).
fn parquet_columns(rows: &[Vec<String>]) -> Vec<(String, ArrayRef)> {
    HEADER
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let texts = rows.iter().map(|r| r[i].as_str());
            let array: ArrayRef = match name {
                "line_item_unblended_cost"
                | "line_item_net_unblended_cost"
                | "line_item_usage_amount" => Arc::new(Float64Array::from_iter(
                    texts.map(|t| t.parse::<f64>().ok()),
                )),
                "line_item_usage_start_date" | "line_item_usage_end_date" => {
                    Arc::new(TimestampMillisecondArray::from_iter(texts.map(|t| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .ok()
                            .map(|d| d.timestamp_millis())
                    })))
                }
                "tags" | "product" => {
                    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
                    for t in texts {
                        match serde_json::from_str::<BTreeMap<String, Option<String>>>(t) {
                            Ok(m) => {
                                for (k, v) in m {
                                    b.keys().append_value(k);
                                    b.values().append_option(v);
                                }
                                b.append(true).unwrap();
                            }
                            Err(_) => b.append(false).unwrap(),
                        }
                    }
                    Arc::new(b.finish())
                }
                _ => Arc::new(StringArray::from_iter(
                    texts.map(|t| (!t.is_empty()).then_some(t)),
                )),
            };
            (name.to_string(), array)
        })
        .collect()
}

fn parquet_of(cols: Vec<(String, ArrayRef)>, row_group_rows: usize) -> Vec<u8> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect())
        .expect("a record batch");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn parquet(rows: &[Vec<String>]) -> Vec<u8> {
    parquet_of(parquet_columns(rows), 1024)
}

/// `parquet_columns` with one column replaced (or removed when `array` is `None`).
fn parquet_with(rows: &[Vec<String>], name: &str, array: Option<ArrayRef>) -> Vec<u8> {
    let mut cols = parquet_columns(rows);
    let i = cols.iter().position(|c| c.0 == name).unwrap();
    match array {
        Some(a) => cols[i].1 = a,
        None => {
            cols.remove(i);
        }
    }
    parquet_of(cols, 1024)
}

/// Byte offsets of a Parquet file's column chunk: (dictionary page offset, data page offset).
fn chunk_offsets(file: &[u8], row_group: usize, column: &str) -> (Option<i64>, i64) {
    use parquet::file::reader::FileReader;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(
        file.to_vec(),
    ))
    .unwrap();
    let rg = reader.metadata().row_group(row_group);
    let c = rg
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .unwrap();
    (c.dictionary_page_offset(), c.data_page_offset())
}

fn overwrite(mut file: Vec<u8>, at: usize, with: &[u8]) -> Vec<u8> {
    file[at..at + with.len()].copy_from_slice(with);
    file
}

// ---------------------------------------------------------------------------------------------
// Cases.

pub enum Expect {
    /// The refresh fails at `stage`; the log names the object and holds every word.
    Error {
        stage: &'static str,
        words: Vec<String>,
    },
    /// The refresh succeeds; the case's account has exactly this cost; all else unchanged.
    Reads { cost: f64 },
    /// The refresh succeeds and nothing changes.
    Unchanged,
}

pub struct Case {
    pub name: String,
    /// Data files to write, by name within the period's data folder.
    pub files: Vec<(String, Vec<u8>)>,
    /// Extra `dataFiles` entries; `None` lists exactly `files`.
    pub entries: Option<Vec<String>>,
    /// Replaces the whole manifest.
    pub manifest: Option<Vec<u8>>,
    /// Something else to do to the export root.
    pub other: Option<fn(&Path)>,
    pub expect: Expect,
}

fn err(stage: &'static str, words: &[&str]) -> Expect {
    Expect::Error {
        stage,
        words: words.iter().map(|w| w.to_string()).collect(),
    }
}

fn file_case(name: &str, file: &str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        files: vec![(file.to_string(), bytes)],
        entries: None,
        manifest: None,
        other: None,
        expect,
    }
}

fn manifest_case(name: &str, manifest: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        files: vec![],
        entries: None,
        manifest: Some(manifest),
        other: None,
        expect,
    }
}

fn entries_case(name: &str, files: Vec<(String, Vec<u8>)>, entries: &[&str], e: Expect) -> Case {
    Case {
        name: name.to_string(),
        files,
        entries: Some(entries.iter().map(|s| s.to_string()).collect()),
        manifest: None,
        other: None,
        expect: e,
    }
}

/// The case's account id (its rows' series are found by it).
pub fn account(i: usize) -> String {
    format!("9999{:08}", i)
}

const RESYNC: &str = "re-sync";

/// Every case. `i` numbers the cases (accounts, file names).
pub fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    let mut add = |f: &dyn Fn(String) -> Case| {
        let acct = account(out.len());
        out.push(f(acct));
    };

    // ---- gzip CSV ----
    add(&|a| {
        let mut rows = vec![row(&a, "1.5"), row(&a, "2.25")];
        rows[1].pop();
        file_case(
            "csv: a short row",
            "short.csv.gz",
            csv_gz(&rows),
            err(
                "decode",
                &["line 3", "found 15 fields, the header has 16", RESYNC],
            ),
        )
    });
    add(&|a| {
        let mut rows = vec![row(&a, "1.5"), row(&a, "2.25")];
        rows[0].push("extra".into());
        file_case(
            "csv: a long row",
            "long.csv.gz",
            csv_gz(&rows),
            err("decode", &["line 2", "found 17 fields", RESYNC]),
        )
    });
    add(&|a| {
        // A non-Bedrock short row is an error too (the whole file is suspect).
        let mut other = row(&a, "1");
        other[1] = "AmazonEC2".into();
        other.truncate(10);
        file_case(
            "csv: a short non-Bedrock row",
            "short-ec2.csv.gz",
            csv_gz(&[row(&a, "1"), other]),
            err("decode", &["line 3", "found 10 fields", RESYNC]),
        )
    });
    add(&|a| {
        let text = csv_text(&HEADER, &[row(&a, "1")]);
        let bad = text + &format!("AWS,AmazonBedrock,Usage,\"unterminated,{a},USD\n");
        file_case(
            "csv: an unterminated quote",
            "unterminated.csv.gz",
            gz(bad.as_bytes()),
            err("decode", &["line 3", RESYNC]),
        )
    });
    add(&|a| {
        let text = csv_text(&HEADER, &[row(&a, "1")]).replace(
            "arn:aws:iam::111122223333:user/corpus",
            "arn:aws:iam::111122223333:user/\"corpus\"x",
        );
        file_case(
            "csv: a quote inside an unquoted field",
            "stray-quote.csv.gz",
            gz(text.as_bytes()),
            Expect::Reads { cost: 1.0 },
        )
    });
    add(&|a| {
        // The product code (a required column) first, so a BOM kept in its name would fail.
        let mut h = HEADER.to_vec();
        h.swap(0, 1);
        let rows: Vec<Vec<String>> = [row(&a, "1.25"), row(&a, "2")]
            .into_iter()
            .map(|mut r| {
                r.swap(0, 1);
                r
            })
            .collect();
        let text = format!("\u{feff}{}", csv_text(&h, &rows));
        file_case(
            "csv: a UTF-8 byte-order mark before the header",
            "bom.csv.gz",
            gz(text.as_bytes()),
            Expect::Reads { cost: 3.25 },
        )
    });
    add(&|a| {
        let text = csv_text(&HEADER, &[row(&a, "1.25"), row(&a, "2")]).replace('\n', "\r\n");
        file_case(
            "csv: CRLF line ends",
            "crlf.csv.gz",
            gz(text.as_bytes()),
            Expect::Reads { cost: 3.25 },
        )
    });
    add(&|a| {
        let text = format!(
            "\u{feff}{}",
            csv_text(&HEADER, &[row(&a, "0.5"), row(&a, "0.25")]).replace('\n', "\r\n")
        );
        file_case(
            "csv: plain (not gzip) with BOM and CRLF",
            "plain.csv",
            text.into_bytes(),
            Expect::Reads { cost: 0.75 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "4");
        r[15] = "{\n\"product_name\":\n\"x\"\n}".into();
        r[4] = "arn:aws:iam::111122223333:user/multi\nline".into();
        file_case(
            "csv: newlines inside quoted fields",
            "embedded-newlines.csv.gz",
            csv_gz(&[r, row(&a, "1")]),
            Expect::Reads { cost: 5.0 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "4");
        r[15] = "{\n\"product_name\":\n\"x\"\n}".into();
        let mut short = row(&a, "1");
        short.truncate(3);
        file_case(
            "csv: line numbers count newlines inside quotes",
            "embedded-then-short.csv.gz",
            csv_gz(&[r, short]),
            err("decode", &["line 6", "found 3 fields"]),
        )
    });
    add(&|a| {
        let mut bytes = csv_text(&HEADER, &[row(&a, "1")]).into_bytes();
        let at = bytes.windows(6).position(|w| w == b"corpus").unwrap();
        bytes[at] = 0xff;
        bytes[at + 1] = 0xfe;
        file_case(
            "csv: non-UTF-8 bytes in a Bedrock row",
            "latin1.csv.gz",
            gz(&bytes),
            err("decode", &["line 2", "not valid UTF-8"]),
        )
    });
    add(&|a| {
        file_case(
            "csv: a cost that is not a number",
            "nan-text.csv.gz",
            csv_gz(&[row(&a, "1"), row(&a, "12,50 USD")]),
            err("decode", &["line 3", "is not a number"]),
        )
    });
    add(&|a| {
        let mut r = row(&a, "1");
        r[14] = "{team: ml".into();
        file_case(
            "csv: a tags cell that is not JSON",
            "tags-not-json.csv.gz",
            csv_gz(&[r]),
            err("decode", &["line 2", "tags", "not a JSON object"]),
        )
    });
    add(&|a| {
        let mut r = row(&a, "1");
        r[13] = "yesterday".into();
        file_case(
            "csv: a usage end that is not a timestamp",
            "bad-end.csv.gz",
            csv_gz(&[r]),
            err(
                "decode",
                &["line_item_usage_end_date", "not an ISO-8601 timestamp"],
            ),
        )
    });
    add(&|a| {
        let h: Vec<&str> = HEADER
            .iter()
            .copied()
            .filter(|h| *h != "line_item_unblended_cost")
            .collect();
        let mut r = row(&a, "1");
        r.remove(9);
        file_case(
            "csv: the unblended cost column is missing",
            "no-cost.csv.gz",
            gz(csv_text(&h, &[r]).as_bytes()),
            err(
                "decode",
                &[
                    "required column line_item_unblended_cost is missing",
                    "CUR 2.0",
                ],
            ),
        )
    });
    add(&|a| {
        let h: Vec<&str> = HEADER
            .iter()
            .copied()
            .filter(|h| *h != "line_item_product_code")
            .collect();
        let mut r = row(&a, "1");
        r.remove(1);
        file_case(
            "csv: the product code column is missing",
            "no-product-code.csv.gz",
            gz(csv_text(&h, &[r]).as_bytes()),
            err(
                "decode",
                &["required column line_item_product_code is missing"],
            ),
        )
    });
    add(&|a| {
        let mut h = HEADER.to_vec();
        h.reverse();
        let rows: Vec<Vec<String>> = [row(&a, "1.5"), row(&a, "0.125")]
            .into_iter()
            .map(|mut r| {
                r.reverse();
                r
            })
            .collect();
        file_case(
            "csv: columns in another order",
            "reversed.csv.gz",
            gz(csv_text(&h, &rows).as_bytes()),
            Expect::Reads { cost: 1.625 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "2");
        for i in [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15] {
            r[i] = String::new();
        }
        file_case(
            "csv: NULLs everywhere (maps included)",
            "nulls.csv.gz",
            csv_gz(&[r, row(&a, "1")]),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "2");
        r[14] = r#"{"iamPrincipal/team":null,"iamPrincipal/x":7}"#.into();
        file_case(
            "csv: null and non-string map values",
            "map-nulls.csv.gz",
            csv_gz(&[r]),
            Expect::Reads { cost: 2.0 },
        )
    });
    add(&|_| {
        file_case(
            "csv: a header and no rows",
            "header-only.csv.gz",
            csv_gz(&[]),
            Expect::Unchanged,
        )
    });
    add(&|_| {
        file_case(
            "csv: a zero-byte file",
            "empty.csv.gz",
            vec![],
            Expect::Unchanged,
        )
    });
    add(&|_| {
        file_case(
            "gzip: an empty member",
            "empty-member.csv.gz",
            gz(b""),
            Expect::Unchanged,
        )
    });
    add(&|a| {
        let mut r = row(&a, "1");
        r[4] = format!("arn:aws:iam::111122223333:user/{}", "x".repeat(10_000));
        r[14] = format!(r#"{{"iamPrincipal/team":"{}"}}"#, "t".repeat(10_000));
        file_case(
            "csv: 10,000-character strings",
            "huge-strings.csv.gz",
            csv_gz(&[r, row(&a, "2")]),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        file_case(
            "csv: a 1e308 cost",
            "huge-cost.csv.gz",
            csv_gz(&[row(&a, "1e308")]),
            Expect::Reads { cost: 1e308 },
        )
    });
    add(&|a| {
        file_case(
            "csv: negative zero costs",
            "negative-zero.csv.gz",
            csv_gz(&[row(&a, "-0"), row(&a, "-0.0"), row(&a, "0.5")]),
            Expect::Reads { cost: 0.5 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "1");
        r[4] = "arn:aws:iam::111122223333:user/a,\"quoted\"\\name=x".into();
        file_case(
            "csv: commas, quotes and backslashes in a quoted field",
            "escapes.csv.gz",
            csv_gz(&[r]),
            Expect::Reads { cost: 1.0 },
        )
    });
    add(&|a| {
        let text =
            csv_text(&HEADER, &[row(&a, "1")]) + "\n\r\n" + &csv_text(&[], &[row(&a, "2")])[1..];
        file_case(
            "csv: blank lines between records",
            "blank-lines.csv.gz",
            gz(text.as_bytes()),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        let text = csv_text(&HEADER, &[row(&a, "1"), row(&a, "2")]);
        file_case(
            "csv: no final newline",
            "no-final-newline.csv.gz",
            gz(text.trim_end().as_bytes()),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        let whole = csv_gz(&vec![row(&a, "1"); 200]);
        file_case(
            "gzip: truncated",
            "truncated.csv.gz",
            whole[..whole.len() / 2].to_vec(),
            err("decode", &["cannot decompress", RESYNC]),
        )
    });
    add(&|a| {
        let mut both = gz(csv_text(&HEADER, &[row(&a, "1")]).as_bytes());
        both.extend(gz(
            &csv_text(&[], &[row(&a, "2"), row(&a, "4")]).as_bytes()[1..]
        ));
        file_case(
            "gzip: concatenated members",
            "members.csv.gz",
            both,
            Expect::Reads { cost: 7.0 },
        )
    });
    add(&|a| {
        let mut bytes = csv_gz(&[row(&a, "1")]);
        bytes.extend_from_slice(b"trailing garbage after the gzip member");
        file_case(
            "gzip: trailing garbage",
            "trailing-garbage.csv.gz",
            bytes,
            err("decode", &["cannot decompress", RESYNC]),
        )
    });
    add(&|a| {
        file_case(
            "gzip: not gzip at all",
            "not-gzip.csv.gz",
            csv_text(&HEADER, &[row(&a, "1")]).into_bytes(),
            err("decode", &["line 1", "cannot decompress", RESYNC]),
        )
    });
    add(&|a| {
        let bytes = csv_gz(&vec![row(&a, "1"); 50]);
        let n = bytes.len();
        // The CRC32 of the member (the 8-byte trailer's first half).
        let bad = overwrite(bytes, n - 8, &[0, 0, 0, 0]);
        file_case(
            "gzip: a wrong CRC",
            "bad-crc.csv.gz",
            bad,
            err("decode", &["cannot decompress", RESYNC]),
        )
    });
    add(&|a| {
        let bytes = csv_gz(&vec![row(&a, "1"); 50]);
        let mid = bytes.len() / 2;
        let bad = overwrite(bytes, mid, &[0xff; 8]);
        file_case(
            "gzip: corrupt deflate data",
            "corrupt-deflate.csv.gz",
            bad,
            err("decode", &["cannot decompress", RESYNC]),
        )
    });

    // ---- Parquet ----
    add(&|a| {
        file_case(
            "parquet: a good file (the writer is right)",
            "good.snappy.parquet",
            parquet(&[row(&a, "1.5"), row(&a, "2")]),
            Expect::Reads { cost: 3.5 },
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1")]);
        let n = f.len();
        file_case(
            "parquet: the footer cut off",
            "no-footer.snappy.parquet",
            f[..n - 4].to_vec(),
            err("decode", &["not a readable Parquet file", RESYNC]),
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1")]);
        let n = f.len();
        file_case(
            "parquet: a footer length past the start",
            "footer-length.snappy.parquet",
            overwrite(f, n - 8, &[0xff, 0xff, 0xff, 0x7f]),
            err("decode", &["not a readable Parquet file", RESYNC]),
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1")]);
        let n = f.len();
        let len = u32::from_le_bytes(f[n - 8..n - 4].try_into().unwrap()) as usize;
        let mid = n - 8 - len / 2;
        file_case(
            "parquet: a corrupt footer (thrift)",
            "footer-garbage.snappy.parquet",
            overwrite(f, mid, &[0xff; 16]),
            err("decode", &["not a readable Parquet file", RESYNC]),
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1")]);
        let n = f.len();
        file_case(
            "parquet: truncated in the middle",
            "half.snappy.parquet",
            f[..n / 2].to_vec(),
            err("decode", &["not a readable Parquet file", RESYNC]),
        )
    });
    add(&|_| {
        file_case(
            "parquet: a zero-byte file",
            "empty.snappy.parquet",
            vec![],
            err("decode", &["not a readable Parquet file"]),
        )
    });
    add(&|_| {
        file_case(
            "parquet: zero rows",
            "zero-rows.snappy.parquet",
            parquet(&[]),
            Expect::Unchanged,
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1"), row(&a, "2")]);
        let (_, data) = chunk_offsets(&f, 0, "line_item_unblended_cost");
        file_case(
            "parquet: a corrupt data page header",
            "page-header.snappy.parquet",
            overwrite(f, data as usize, &[0xff; 12]),
            err("decode", &["row group 0", RESYNC]),
        )
    });
    add(&|a| {
        let rows: Vec<Vec<String>> = (0..300).map(|i| row(&a, &format!("{i}.5"))).collect();
        let f = parquet(&rows);
        let (dict, data) = chunk_offsets(&f, 0, "line_item_unblended_cost");
        let at = (dict.unwrap_or(data) as usize) + 40;
        file_case(
            "parquet: corrupt page data (snappy)",
            "page-data.snappy.parquet",
            overwrite(f, at, &[0xfe; 24]),
            err("decode", &["row group 0", RESYNC]),
        )
    });
    add(&|a| {
        let f = parquet(&[row(&a, "1"), row(&a, "2")]);
        let (dict, _) = chunk_offsets(&f, 0, "line_item_usage_type");
        file_case(
            "parquet: a corrupt dictionary page",
            "dictionary.snappy.parquet",
            overwrite(f, dict.expect("a dictionary page") as usize, &[0xff; 12]),
            err("decode", &["row group 0", RESYNC]),
        )
    });
    add(&|a| {
        let rows: Vec<Vec<String>> = (0..40).map(|i| row(&a, &format!("{i}"))).collect();
        let f = parquet_of(parquet_columns(&rows), 10);
        let (dict, data) = chunk_offsets(&f, 2, "line_item_product_code");
        file_case(
            "parquet: the third of four row groups corrupt",
            "rg2.snappy.parquet",
            overwrite(f, dict.unwrap_or(data) as usize, &[0xff; 12]),
            err("decode", &["row group 2", RESYNC]),
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: the cost column is text",
            "cost-text.snappy.parquet",
            parquet_with(
                &rows,
                "line_item_unblended_cost",
                Some(Arc::new(StringArray::from(vec!["1"]))),
            ),
            err("decode", &["line_item_unblended_cost", "expected double"]),
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: the product code is a number",
            "code-int.snappy.parquet",
            parquet_with(
                &rows,
                "line_item_product_code",
                Some(Arc::new(Int32Array::from(vec![7]))),
            ),
            err("decode", &["line_item_product_code", "expected string"]),
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: tags as text instead of a map",
            "tags-text.snappy.parquet",
            parquet_with(
                &rows,
                "tags",
                Some(Arc::new(StringArray::from(vec![
                    r#"{"iamPrincipal/team":"x"}"#,
                ]))),
            ),
            err("decode", &["tags"]),
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: the start date is text",
            "start-text.snappy.parquet",
            parquet_with(
                &rows,
                "line_item_usage_start_date",
                Some(Arc::new(StringArray::from(vec!["soon"]))),
            ),
            err("decode", &["line_item_usage_start_date"]),
        )
    });
    add(&|a| {
        let rows = [row(&a, "3")];
        file_case(
            "parquet: costs as int64 (a rewritten mirror)",
            "cost-int.snappy.parquet",
            parquet_with(
                &rows,
                "line_item_unblended_cost",
                Some(Arc::new(Int64Array::from(vec![3]))),
            ),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: the cost column is missing",
            "no-cost.snappy.parquet",
            parquet_with(&rows, "line_item_unblended_cost", None),
            err(
                "decode",
                &["required column line_item_unblended_cost is missing"],
            ),
        )
    });
    add(&|a| {
        let mut cols = parquet_columns(&[row(&a, "1.5"), row(&a, "0.25")]);
        cols.reverse();
        file_case(
            "parquet: columns in another order",
            "reversed.snappy.parquet",
            parquet_of(cols, 1024),
            Expect::Reads { cost: 1.75 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "2");
        for i in [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15] {
            r[i] = String::new();
        }
        let mut m = row(&a, "1");
        m[14] = r#"{"iamPrincipal/team":null}"#.into();
        file_case(
            "parquet: NULLs everywhere (maps and map values included)",
            "nulls.snappy.parquet",
            parquet(&[r, m]),
            Expect::Reads { cost: 3.0 },
        )
    });
    add(&|a| {
        let mut r = row(&a, "1");
        r[4] = format!("arn:aws:iam::111122223333:user/{}", "y".repeat(10_000));
        r[14] = format!(r#"{{"iamPrincipal/{}":"v"}}"#, "k".repeat(10_000));
        file_case(
            "parquet: 10,000-character strings",
            "huge-strings.snappy.parquet",
            parquet(&[r]),
            Expect::Reads { cost: 1.0 },
        )
    });
    add(&|a| {
        file_case(
            "parquet: a 1e308 cost",
            "huge-cost.snappy.parquet",
            parquet(&[row(&a, "1e308")]),
            Expect::Reads { cost: 1e308 },
        )
    });
    add(&|a| {
        file_case(
            "parquet: negative zero costs",
            "negative-zero.snappy.parquet",
            parquet(&[row(&a, "-0.0"), row(&a, "-0"), row(&a, "0.75")]),
            Expect::Reads { cost: 0.75 },
        )
    });
    add(&|a| {
        let rows = [row(&a, "1")];
        file_case(
            "parquet: non-UTF-8 bytes (a binary principal column)",
            "binary.snappy.parquet",
            parquet_with(
                &rows,
                "line_item_iam_principal",
                Some(Arc::new(BinaryArray::from(vec![&b"\xff\xfeuser"[..]]))),
            ),
            err("decode", &["line_item_iam_principal", "expected string"]),
        )
    });

    // ---- manifests ----
    add(&|_| {
        manifest_case(
            "manifest: not JSON",
            b"<html>503 Service Unavailable</html>".to_vec(),
            err("manifest", &["not valid manifest JSON", "line 1"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: zero bytes",
            vec![],
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: cut in the middle",
            br#"{"executionId":"x","dataFiles":["s3://example-billing-bucket/cur/cur2/data/BILLING_PER"#
                .to_vec(),
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: a JSON array",
            b"[1,2,3]".to_vec(),
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: no dataFiles",
            br#"{"executionId":"x"}"#.to_vec(),
            err("manifest", &["no `dataFiles`"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: dataFiles are not strings",
            br#"{"dataFiles":[1,2]}"#.to_vec(),
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: not UTF-8",
            b"{\"dataFiles\":[\"\xff\xfe\"]}".to_vec(),
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        manifest_case(
            "manifest: nested 10,000 deep",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            err("manifest", &["not valid manifest JSON"]),
        )
    });
    add(&|_| {
        entries_case(
            "manifest: names a missing file",
            vec![],
            &[&format!(
                "{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/corpus-missing.snappy.parquet"
            )],
            err(
                "read",
                &["corpus-missing.snappy.parquet", "not there", RESYNC],
            ),
        )
    });
    add(&|_| {
        entries_case(
            "manifest: names a file outside the export's data/",
            vec![],
            &["s3://example-billing-bucket/cur/cur2/metadata/secrets.csv"],
            err(
                "manifest",
                &["metadata/secrets.csv", "not under `data/BILLING_PERIOD="],
            ),
        )
    });
    add(&|_| {
        entries_case(
            "manifest: a `..` escaping the period's folder",
            vec![],
            &[&format!(
                "{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/../../metadata/x.csv"
            )],
            err("manifest", &["..", "a `.` or `..` segment"]),
        )
    });
    add(&|a| {
        entries_case(
            "manifest: a `..` before data/",
            vec![("dotdot.csv.gz".into(), csv_gz(&[row(&a, "1")]))],
            &[&format!(
                "s3://example-billing-bucket/cur/../../../etc/data/BILLING_PERIOD={PERIOD}/corpus-dotdot.csv.gz"
            )],
            err("manifest", &["..", "a `.` or `..` segment"]),
        )
    });
    add(&|a| {
        entries_case(
            "manifest: lists the same file twice",
            vec![("twice.csv.gz".into(), csv_gz(&[row(&a, "1")]))],
            &[
                &format!("{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/corpus-twice.csv.gz"),
                &format!("{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/corpus-twice.csv.gz"),
            ],
            err("manifest", &["corpus-twice.csv.gz", "twice"]),
        )
    });
    add(&|a| {
        entries_case(
            "manifest: one file in another bucket",
            vec![("elsewhere.csv.gz".into(), csv_gz(&[row(&a, "1")]))],
            &[&format!(
                "s3://someone-elses-bucket/cur/cur2/data/BILLING_PERIOD={PERIOD}/corpus-elsewhere.csv.gz"
            )],
            err(
                "manifest",
                &["s3://someone-elses-bucket/cur/cur2/", "another export"],
            ),
        )
    });
    add(&|a| {
        entries_case(
            "manifest: names a file of another billing period",
            vec![],
            &[&format!(
                "{URI_ROOT}/data/BILLING_PERIOD=2026-10/corpus-{}.csv.gz",
                a
            )],
            err("manifest", &["not in billing period 2026-11"]),
        )
    });
    add(&|_| {
        entries_case(
            "manifest: names a folder",
            vec![],
            &[&format!("{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/")],
            err("manifest", &["not under `data/BILLING_PERIOD="]),
        )
    });
    add(&|a| {
        entries_case(
            "manifest: names a file of an unknown format",
            vec![(
                "notes.txt".into(),
                csv_text(&HEADER, &[row(&a, "1")]).into_bytes(),
            )],
            &[&format!(
                "{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/corpus-notes.txt"
            )],
            err("decode", &["corpus-notes.txt"]),
        )
    });
    out.push(Case {
        name: "a billing period folder with no manifest (a delivery in progress)".into(),
        files: vec![],
        entries: None,
        manifest: None,
        other: Some(|root| {
            let d = root.join("metadata/BILLING_PERIOD=2026-12");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("not-a-manifest.json"), b"{}").unwrap();
            let d = root.join("data/BILLING_PERIOD=2026-12");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cur2-00001.snappy.parquet"), b"garbage").unwrap();
        }),
        expect: Expect::Unchanged,
    });
    out
}

// ---------------------------------------------------------------------------------------------
// The runner.

/// The Bedrock series of an exposition (not the self-metrics), for comparisons.
fn bedrock(all: &[Sample]) -> Vec<Sample> {
    all.iter()
        .filter(|s| s.name.starts_with("bedrock_") && !s.name.starts_with("bedrock_exporter_"))
        .cloned()
        .collect()
}

/// The cost series (what a case's rows can add to).
fn costs(all: &[Sample]) -> Vec<Sample> {
    all.iter()
        .filter(|s| {
            matches!(
                s.name.as_str(),
                "bedrock_cost_usd"
                    | "bedrock_net_cost_usd"
                    | "bedrock_usage_tokens"
                    | "bedrock_usage_amount"
            )
        })
        .cloned()
        .collect()
}

fn total(all: &[Sample], name: &str) -> f64 {
    all.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

fn refreshes(all: &[Sample]) -> f64 {
    total(all, "bedrock_exporter_refreshes_total")
}

fn post(addr: std::net::SocketAddr, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .post(format!("http://{addr}{path}"))
        .send_empty()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Makes the daemon refresh now and returns the metrics after that refresh.
fn refresh_now(d: &Daemon) -> Vec<Sample> {
    let before = refreshes(&d.metrics());
    assert_eq!(post(d.addr, "/-/reload"), 200, "POST /-/reload");
    let start = Instant::now();
    loop {
        let m = d.metrics();
        if refreshes(&m) > before {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no refresh within 30 s of POST /-/reload"
        );
        std::thread::sleep(Duration::from_millis(15));
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub manifest_key: String,
    pub good_manifest: serde_json::Value,
    bump: u64,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let s = write_export(
            dir.path(),
            &ExportSpec {
                format: SampleFormat::Parquet,
                rows_per_period: 600,
                files_per_period: 2,
                row_group_rows: 200,
                ..ExportSpec::default()
            },
        )
        .unwrap();
        let manifest_key = s
            .manifests
            .iter()
            .find(|m| m.contains(&format!("BILLING_PERIOD={PERIOD}")))
            .unwrap()
            .clone();
        let good_manifest =
            serde_json::from_slice(&std::fs::read(dir.path().join(&manifest_key)).unwrap())
                .unwrap();
        Fixture {
            dir,
            manifest_key,
            good_manifest,
            bump: 0,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.root().join(format!("data/BILLING_PERIOD={PERIOD}"))
    }

    /// Writes the manifest with a new modification time (the daemon rereads the period).
    pub fn write_manifest(&mut self, bytes: &[u8]) {
        let path = self.root().join(&self.manifest_key);
        std::fs::write(&path, bytes).unwrap();
        self.bump += 1;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(self.bump))
            .unwrap();
    }

    pub fn restore(&mut self) {
        let good = serde_json::to_vec_pretty(&self.good_manifest).unwrap();
        self.write_manifest(&good);
    }

    /// Applies a case's damage.
    pub fn apply(&mut self, case: &Case) {
        let mut entries = Vec::new();
        for (name, bytes) in &case.files {
            let file = format!("corpus-{name}");
            std::fs::write(self.data_dir().join(&file), bytes).unwrap();
            entries.push(format!("{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/{file}"));
        }
        if let Some(e) = &case.entries {
            entries = e.clone();
        }
        if let Some(f) = case.other {
            f(self.root());
        }
        match &case.manifest {
            Some(m) => self.write_manifest(m),
            None if !entries.is_empty() => {
                let mut m = self.good_manifest.clone();
                let list = m["dataFiles"].as_array_mut().unwrap();
                list.extend(entries.into_iter().map(serde_json::Value::String));
                self.write_manifest(&serde_json::to_vec_pretty(&m).unwrap());
            }
            None => self.restore(),
        }
    }
}

fn case_object(fx: &Fixture, case: &Case) -> String {
    match (&case.manifest, case.files.first(), &case.entries) {
        (Some(_), _, _) => fx.manifest_key.clone(),
        (None, _, Some(e)) if !e.is_empty() && case.files.is_empty() => {
            e[0].rsplit('/').next().unwrap().to_string()
        }
        (None, Some((name, _)), _) => format!("corpus-{name}"),
        _ => String::new(),
    }
}

#[test]
fn corpus_of_bad_inputs_in_one_daemon() {
    let cases = cases();
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let mut fx = Fixture::new();
    let mut d = Daemon::start(
        &[
            "--source",
            fx.root().to_str().unwrap(),
            "--web.enable-lifecycle",
        ],
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_NOW", "2026-11-20T12:00:00Z"),
        ],
    );
    d.wait_ready();
    let good_all = d.metrics();
    let good = bedrock(&good_all);
    assert!(total(&good, "bedrock_cost_usd") > 0.0);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut last = good_all.clone();
    for (i, case) in cases.iter().enumerate() {
        let seen = d.drain_log().len();
        fx.apply(case);
        let m = refresh_now(&d);
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "case {i} ({}): the daemon died",
            case.name
        );
        let log = d.drain_log()[seen..].join("\n");
        let mut problems = Vec::new();
        match &case.expect {
            Expect::Error { stage, words } => {
                let before = value(&last, "bedrock_exporter_errors_total", &[("stage", stage)])
                    .unwrap_or(0.0);
                let now =
                    value(&m, "bedrock_exporter_errors_total", &[("stage", stage)]).unwrap_or(0.0);
                if now <= before {
                    problems.push(format!("errors_total{{stage={stage}}} did not move"));
                }
                if value(&m, "bedrock_exporter_last_refresh_success", &[]) != Some(0.0) {
                    problems.push("last_refresh_success is not 0".into());
                }
                if bedrock(&m) != good {
                    problems.push("the Bedrock series differ from the last good snapshot".into());
                }
                let err_line = log
                    .lines()
                    .find(|l| l.contains("ERROR"))
                    .unwrap_or_default()
                    .to_string();
                let object = case_object(&fx, case);
                for w in std::iter::once(&object).chain(words) {
                    if !err_line.contains(w.as_str()) {
                        problems.push(format!("the error lacks {w:?}"));
                    }
                }
                if !problems.is_empty() {
                    problems.push(format!("log: {log}"));
                }
            }
            Expect::Reads { cost } => {
                if value(&m, "bedrock_exporter_last_refresh_success", &[]) != Some(1.0) {
                    problems.push(format!("the refresh failed: {log}"));
                }
                let acct = account(i);
                let got: f64 = m
                    .iter()
                    .filter(|s| s.name == "bedrock_cost_usd" && s.label("account_id") == acct)
                    .map(|s| s.value)
                    .sum();
                if got != *cost {
                    problems.push(format!("cost of the case's rows {got}, expected {cost}"));
                }
                let rest: Vec<Sample> = costs(&m)
                    .into_iter()
                    .filter(|s| s.label("account_id") != acct)
                    .collect();
                if rest != costs(&good) {
                    problems.push("other series changed".into());
                }
            }
            Expect::Unchanged => {
                if value(&m, "bedrock_exporter_last_refresh_success", &[]) != Some(1.0) {
                    problems.push(format!("the refresh failed: {log}"));
                }
                if costs(&m) != costs(&good) {
                    problems.push("the series changed".into());
                }
            }
        }
        if d.get("/readyz").0 != 200 {
            problems.push("/readyz is not 200".into());
        }
        // Recovery: the good manifest again.
        fx.restore();
        let m = refresh_now(&d);
        if value(&m, "bedrock_exporter_last_refresh_success", &[]) != Some(1.0)
            || costs(&m) != costs(&good)
        {
            problems.push("no recovery with the good manifest".into());
        }
        last = m;
        if !problems.is_empty() {
            failures.push(format!(
                "case {i} ({}):\n  {}",
                case.name,
                problems.join("\n  ")
            ));
        }
    }
    eprintln!(
        "corpus: {} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// A cardinality bomb: one distinct session per line item.

/// Writes an export whose one file has `n` Bedrock line items, each its own assumed-role session;
/// returns the exact total cost (costs are multiples of 1/1024, so every sum is exact).
pub fn write_bomb(root: &Path, n: usize) -> f64 {
    let data = root.join(format!("data/BILLING_PERIOD={PERIOD}"));
    let meta = root.join(format!("metadata/BILLING_PERIOD={PERIOD}"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&meta).unwrap();
    let file = std::fs::File::create(data.join("cur2-00001.csv.gz")).unwrap();
    let mut w =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    writeln!(w, "{}", HEADER.join(",")).unwrap();
    let mut total = 0.0;
    for i in 0..n {
        let cost = ((i % 4096) + 1) as f64 / 1024.0;
        total += cost;
        let mut r = row("111122223333", &cost.to_string());
        r[4] = format!("arn:aws:sts::111122223333:assumed-role/Gateway/user-{i}@example.com");
        writeln!(
            w,
            "{}",
            r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",")
        )
        .unwrap();
    }
    w.finish().unwrap().flush().unwrap();
    let manifest = serde_json::json!({
        "executionId": "bomb",
        "dataFiles": [format!("{URI_ROOT}/data/BILLING_PERIOD={PERIOD}/cur2-00001.csv.gz")],
    });
    std::fs::write(meta.join("cur2-Manifest.json"), manifest.to_string()).unwrap();
    total
}

/// `CORPUS_BOMB_SESSIONS` (default 200,000 in the suite; `scripts/cardinality-bomb.sh` runs the
/// full million in a release build).
#[test]
fn a_cardinality_bomb_keeps_the_cap_exact_totals_and_bounded_memory() {
    if missing(&[Need::Time]) {
        return;
    }
    let n: usize = std::env::var("CORPUS_BOMB_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let expected = write_bomb(dir.path(), n);
    let start = Instant::now();
    let out = std::process::Command::new(tool("time"))
        .args(["-f", "maxrss_kb=%M", BIN, "once", "--source"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env("BCE_NOW", "2026-11-20T12:00:00Z")
        .env_remove("BCE_SOURCE")
        .output()
        .expect("GNU time (Debian package `time`)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let rss_kb: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .expect("maxrss from /usr/bin/time");
    let m = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let costs: Vec<&Sample> = samples(&m, "bedrock_cost_usd");
    let series = value(&m, "bedrock_exporter_series", &[]).unwrap();
    let limit = value(&m, "bedrock_exporter_series_limit", &[]).unwrap();
    let bound_kb = BOMB_BASE_MB * 1024.0 + n as f64 * BOMB_BYTES_PER_SESSION / 1024.0;
    eprintln!(
        "cardinality bomb: {n} sessions, {} cost series (limit {limit}), peak RSS {:.0} MB (bound {:.0} MB), {:.1} s",
        costs.len(),
        rss_kb / 1024.0,
        bound_kb.min(1024.0 * 1024.0) / 1024.0,
        start.elapsed().as_secs_f64()
    );
    assert!(
        series <= limit && costs.len() as f64 <= limit,
        "the cap holds"
    );
    assert!(value(&m, "bedrock_exporter_folded_series", &[]).unwrap() > 0.0);
    let got: f64 = costs.iter().map(|s| s.value).sum();
    assert_eq!(got, expected, "totals are exact after folding");
    assert!(
        rss_kb < 1024.0 * 1024.0,
        "peak RSS {rss_kb} kB is not under 1 GB"
    );
    // Memory grows with the distinct series before the cap, by a few hundred bytes each (README,
    // "Cardinality"): a bound proportional to the sessions catches a regression at any size (full
    // label strings per pre-cap series took ~2.5 kB each: 507 MB at 200,000 sessions).
    assert!(
        rss_kb < bound_kb,
        "peak RSS {:.0} MB for {n} sessions is over {BOMB_BASE_MB} MB + {BOMB_BYTES_PER_SESSION} bytes per session ({:.0} MB)",
        rss_kb / 1024.0,
        bound_kb / 1024.0
    );
}

/// Peak RSS allowed to the cardinality bomb: a base (binary, threads, decoding buffers; debug
/// builds included) plus a size per distinct session (measured: ~350 bytes, README).
const BOMB_BASE_MB: f64 = 128.0;
const BOMB_BYTES_PER_SESSION: f64 = 512.0;
