//! Parquet decoding built on byte ranges: the footer gives a [`ParquetPlan`]; each row group is
//! then decoded on its own from its projected column chunks (fetched by the caller, from a file or
//! with ranged GETs), so row groups of one file can be decoded on several cores. Rows go to a
//! [`RowSink`]; memory is bounded by one row group's projected chunks and one batch.
//!
//! Every compression codec the `parquet` crate offers is built in (AWS writes snappy; mirrors get
//! rewritten with zstd, gzip, lz4 or brotli). Strings, map keys and values are read as
//! dictionaries (CUR strings repeat), so the prefilter evaluates once per dictionary value, and
//! rows read their strings from the dictionary in place (no string is copied per row).
//!
//! Physical types are read defensively (the CUR 2.0 table dictionary documents logical types only): strings may be plain, large, view or
//! dictionary-encoded; timestamps may be INT64 (any unit, with or without a time zone) or INT96;
//! numbers may be any numeric type (costs are documented as double).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, MapArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, Schema, TimeUnit};
use bytes::{Buf, Bytes};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::Statistics;

use super::CurError;
use super::columns::{self as col, Projection};
use super::row::{CurRow, FileStats, Prefilter, RowSink};
use super::time::parse_iso8601_ms;

/// Rows per decoded batch. With the prefilter's row filter, the reader decodes every row a batch
/// spans and drops the unwanted ones (its row-selection mask), so at a few per cent Bedrock a
/// batch of 8,192 wanted rows spans a whole row group of every projected column. 1,024 bounds
/// that: measured on the 10M-row bench sets (2 cores), 1 % Bedrock 0.58 s / 97 MB → 0.53 s /
/// 66 MB peak RSS, 50 % 1.40 s / 66 MB → 1.41 s / 56 MB; 512 was slower at 50 %.
pub const BATCH_ROWS: usize = 1024;

/// Bytes to read from the end of a Parquet object to get its footer in one request (most fit).
pub const FOOTER_GUESS: u64 = 64 << 10;

/// The byte range of a Parquet file's metadata, from the file's last bytes (`tail`, at least the
/// 8-byte trailer) and its size. The caller fetches the range when `tail` does not hold it.
pub fn metadata_range(tail: &[u8], size: u64, object: &str) -> Result<Range<u64>, CurError> {
    let n = tail.len();
    let bad = |message: String| CurError::ParquetFile {
        object: object.to_string(),
        source: ParquetError::General(message),
    };
    if n < 8 || &tail[n - 4..] != b"PAR1" {
        return Err(bad(
            "not a Parquet file (no PAR1 magic at the end); was it truncated or replaced?".into(),
        ));
    }
    let meta_len = u64::from(u32::from_le_bytes(
        tail[n - 8..n - 4].try_into().expect("4 bytes"),
    ));
    if meta_len + 8 > size {
        return Err(bad(format!(
            "the footer claims {meta_len} bytes of metadata in a {size}-byte file"
        )));
    }
    Ok(size - 8 - meta_len..size - 8)
}

/// What to read of one Parquet data file, decided from its footer: the schema with strings read
/// as dictionaries, the projection, the late-materialisation filter's columns, and what is known
/// before reading a row (missing optional columns, freshness from statistics).
pub struct ParquetPlan {
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    stats: FileStats,
    size: u64,
}

impl ParquetPlan {
    /// A plan from the file's metadata bytes (see [`metadata_range`]) and its size, reading the
    /// daemon's columns ([`Projection::Daemon`]).
    pub fn new(metadata: &[u8], size: u64, object: &str) -> Result<ParquetPlan, CurError> {
        Self::with_projection(metadata, size, object, Projection::Daemon)
    }

    /// A plan reading the columns of `projection` (the chunks [`ParquetPlan::ranges`] names).
    pub fn with_projection(
        metadata: &[u8],
        size: u64,
        object: &str,
        projection: Projection,
    ) -> Result<ParquetPlan, CurError> {
        let file_err = |source| CurError::ParquetFile {
            object: object.to_string(),
            source,
        };
        let md = ParquetMetaDataReader::decode_metadata(metadata).map_err(file_err)?;
        let meta = ArrowReaderMetadata::try_new(Arc::new(md), ArrowReaderOptions::new())
            .map_err(file_err)?;
        let (meta, mask, stats) = plan(meta, object, projection)?;
        Ok(ParquetPlan {
            meta,
            mask,
            stats,
            size,
        })
    }

    /// What is known of the file before reading a row (rows and bytes are 0).
    pub fn file_stats(&self) -> &FileStats {
        &self.stats
    }

    pub fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    /// Rows in row group `rg`.
    pub fn row_group_rows(&self, rg: usize) -> u64 {
        self.meta.metadata().row_group(rg).num_rows().max(0) as u64
    }

    /// Whether row group `rg` may hold a row the prefilter wants, judged from the column chunks'
    /// statistics: `false` only when the product-code range and the billing-entity range both
    /// exclude every wanted value (a row group of EC2 and S3 rows, say). Then it need not be
    /// fetched or decoded. Without statistics, `true`.
    pub fn may_hold(&self, rg: usize, prefilter: &Prefilter) -> bool {
        let group = self.meta.metadata().row_group(rg);
        let descr = self.meta.parquet_schema();
        let leaf = |name: &str| {
            (0..descr.num_columns()).find(|&i| descr.column(i).path().string() == name)
        };
        // `Some(false)` when the chunk's statistics rule out every value of `wanted`.
        let possible = |name: &str, wanted: &[&str]| -> Option<bool> {
            let chunk = group.column(leaf(name)?);
            let Some(Statistics::ByteArray(stats)) = chunk.statistics() else {
                return None;
            };
            if stats.null_count_opt() == Some(chunk.num_values().max(0) as u64) {
                return Some(false);
            }
            let (min, max) = (stats.min_bytes_opt()?, stats.max_bytes_opt()?);
            Some(
                wanted
                    .iter()
                    .any(|w| min <= w.as_bytes() && w.as_bytes() <= max),
            )
        };
        let by_code = possible(col::PRODUCT_CODE, prefilter.product_codes);
        let by_entity = match leaf(col::BILLING_ENTITY) {
            None => Some(false),
            Some(_) => possible(col::BILLING_ENTITY, prefilter.billing_entities),
        };
        !(by_code == Some(false) && by_entity == Some(false))
    }

    /// The byte ranges of row group `rg`'s projected column chunks: all that decoding it reads.
    pub fn ranges(&self, rg: usize) -> Vec<Range<u64>> {
        let group = self.meta.metadata().row_group(rg);
        (0..group.num_columns())
            .filter(|&c| self.mask.leaf_included(c))
            .map(|c| {
                let (start, len) = group.column(c).byte_range();
                start..start.saturating_add(len)
            })
            .collect()
    }

    /// Decodes row group `rg` from its fetched column chunks (`ranges` as given by
    /// [`ParquetPlan::ranges`], `bytes` their contents), handing the rows to `sink`.
    pub fn read_row_group(
        &self,
        rg: usize,
        ranges: &[Range<u64>],
        bytes: Vec<Bytes>,
        object: &str,
        sink: &mut dyn RowSink,
    ) -> Result<(), CurError> {
        let rg_err = |source: Box<dyn std::error::Error + Send + Sync>| CurError::ParquetRowGroup {
            object: object.to_string(),
            row_group: rg,
            source,
        };
        let input = Fetched {
            size: self.size,
            parts: ranges.iter().map(|r| r.start).zip(bytes).collect(),
        };
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(input, self.meta.clone())
                .with_projection(self.mask.clone())
                .with_row_groups(vec![rg])
                .with_batch_size(BATCH_ROWS);
        if let Some(filter) = row_filter(&self.meta, sink.prefilter()) {
            builder = builder.with_row_filter(filter);
        }
        let reader = builder.build().map_err(|e| rg_err(Box::new(e)))?;
        for batch in reader {
            let batch = batch.map_err(|e| rg_err(Box::new(e)))?;
            decode_batch(&batch, sink).map_err(|e| batch_error(e, object, rg))?;
        }
        Ok(())
    }
}

/// Column chunks fetched from an object, served to the Parquet reader as if it were the file.
struct Fetched {
    size: u64,
    /// `(offset in the file, bytes)`, sorted by offset.
    parts: Vec<(u64, Bytes)>,
}

impl Fetched {
    fn part(&self, start: u64, len: u64) -> parquet::errors::Result<Bytes> {
        self.parts
            .iter()
            .find(|(at, b)| *at <= start && start + len <= at + b.len() as u64)
            .map(|(at, b)| b.slice((start - at) as usize..(start - at + len) as usize))
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "bytes {start}..{} lie outside the fetched column chunks",
                    start + len
                ))
            })
    }
}

impl Length for Fetched {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for Fetched {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let (at, b) = self
            .parts
            .iter()
            .find(|(at, b)| *at <= start && start < at + b.len() as u64)
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "offset {start} lies outside the fetched column chunks"
                ))
            })?;
        Ok(b.slice((start - at) as usize..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.part(start, length as u64)
    }
}

fn batch_error(e: BatchError, object: &str, row_group: usize) -> CurError {
    match e {
        BatchError::Type {
            column,
            found,
            expected,
        } => CurError::ColumnType {
            object: object.to_string(),
            column,
            found,
            expected,
        },
        BatchError::Arrow(message) => CurError::ParquetRowGroup {
            object: object.to_string(),
            row_group,
            source: message.into(),
        },
    }
}

fn dict_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The same metadata, with top-level string columns read as dictionary arrays: CUR strings repeat
/// (a few product codes, usage types, principals), so rows carry keys into a small dictionary
/// instead of copies of the strings. Not `report`'s own columns ([`col::REPORT_ONLY`]), read as
/// plain strings: a column chunk without a dictionary — `bill_invoice_id` is all NULL until the
/// period is invoiced — would be re-dictionary-encoded by the reader, every value hashed and
/// compared, which doubled the report's time on a 5M-row file (0.7 s of CPU for that one column);
/// as plain strings only the Bedrock rows' values are copied.
fn with_dictionaries(
    meta: ArrowReaderMetadata,
    object: &str,
) -> Result<ArrowReaderMetadata, CurError> {
    let fields: Vec<arrow::datatypes::FieldRef> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8
                if !col::REPORT_ONLY.contains(&f.name().as_str()) =>
            {
                Arc::new(f.as_ref().clone().with_data_type(dict_utf8()))
            }
            DataType::Map(entries, sorted) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => {
                    let kv: Vec<arrow::datatypes::FieldRef> = kv
                        .iter()
                        .map(|c| match c.data_type() {
                            DataType::Utf8 | DataType::LargeUtf8 => {
                                Arc::new(c.as_ref().clone().with_data_type(dict_utf8()))
                            }
                            _ => c.clone(),
                        })
                        .collect();
                    let entries = Arc::new(
                        entries
                            .as_ref()
                            .clone()
                            .with_data_type(DataType::Struct(kv.into())),
                    );
                    Arc::new(
                        f.as_ref()
                            .clone()
                            .with_data_type(DataType::Map(entries, *sorted)),
                    )
                }
                _ => f.clone(),
            },
            _ => f.clone(),
        })
        .collect();
    let hint = Arc::new(Schema::new_with_metadata(
        fields,
        meta.schema().metadata().clone(),
    ));
    ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .map_err(|source| CurError::ParquetFile {
        object: object.to_string(),
        source,
    })
}

/// Whether each row's value is one of `wanted`, evaluated once per dictionary value when the
/// column is dictionary-encoded.
fn matches_any(
    a: Option<&ArrayRef>,
    wanted: &[&str],
    n: usize,
) -> Result<Vec<bool>, arrow::error::ArrowError> {
    let Some(a) = a else {
        return Ok(vec![false; n]);
    };
    if let Some(dict) = a.as_any_dictionary_opt() {
        let values = cast(dict.values(), &DataType::Utf8)?;
        let values = values.as_string::<i32>();
        let hit: Vec<bool> = (0..values.len())
            .map(|i| values.is_valid(i) && wanted.contains(&values.value(i)))
            .collect();
        let keys = dict.normalized_keys();
        return Ok((0..n)
            .map(|i| a.is_valid(i) && hit.get(keys[i]).copied().unwrap_or(false))
            .collect());
    }
    let s = cast(a, &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    Ok((0..n)
        .map(|i| s.is_valid(i) && wanted.contains(&s.value(i)))
        .collect())
}

/// Late materialisation: decode product code and billing entity first, and the other projected
/// columns only for the rows the prefilter wants (a 1 % Bedrock bill skips 99 % of the work).
fn row_filter(meta: &ArrowReaderMetadata, prefilter: Option<Prefilter>) -> Option<RowFilter> {
    let pf = prefilter?;
    let schema = meta.schema();
    let pc = schema.index_of(col::PRODUCT_CODE).ok()?;
    let be = schema.index_of(col::BILLING_ENTITY).ok();
    let mask = ProjectionMask::roots(meta.parquet_schema(), std::iter::once(pc).chain(be));
    let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
        let n = batch.num_rows();
        let by_code = matches_any(batch.column_by_name(col::PRODUCT_CODE), pf.product_codes, n)?;
        let by_entity = matches_any(
            batch.column_by_name(col::BILLING_ENTITY),
            pf.billing_entities,
            n,
        )?;
        let keep: arrow::array::BooleanArray = by_code
            .iter()
            .zip(&by_entity)
            .map(|(a, b)| Some(*a || *b))
            .collect();
        Ok(keep)
    });
    Some(RowFilter::new(vec![Box::new(predicate)]))
}

/// What to read of a file: its metadata with dictionary-typed strings, the projection, and the
/// stats known before reading a row (missing columns; freshness when statistics give it).
fn plan(
    meta: ArrowReaderMetadata,
    object: &str,
    projected: Projection,
) -> Result<(ArrowReaderMetadata, ProjectionMask, FileStats), CurError> {
    let meta = with_dictionaries(meta, object)?;
    let (roots, missing) = projection(meta.schema(), object, projected)?;
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
    let stats = FileStats {
        missing_columns: missing,
        ..FileStats::default()
    };
    Ok((meta, mask, stats))
}

/// Top-level column indices to read, and the optional columns that are absent.
fn projection(
    schema: &Schema,
    object: &str,
    projected: Projection,
) -> Result<(Vec<usize>, Vec<&'static str>), CurError> {
    for &column in col::REQUIRED {
        if schema.index_of(column).is_err() {
            return Err(CurError::MissingColumn {
                object: object.to_string(),
                column,
            });
        }
    }
    check_types(schema, object, projected)?;
    let mut roots = Vec::new();
    let mut missing = Vec::new();
    for &name in projected.columns() {
        match schema.index_of(name) {
            Ok(i) => roots.push(i),
            Err(_) if name == col::PRODUCT_PRODUCT_NAME || name == col::PRODUCT => {}
            Err(_) => missing.push(name),
        }
    }
    Ok((roots, missing))
}

/// Checks the types of the string and number columns once per file, from the schema: a file whose
/// product code is a number is not a CUR file even when no row of it is Bedrock (the row checks
/// only see the rows the prefilter keeps). Only the projected columns: a column the read skips
/// cannot spoil it.
fn check_types(schema: &Schema, object: &str, projected: Projection) -> Result<(), CurError> {
    let is_string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    for field in schema.fields() {
        let Some(&column) = projected
            .columns()
            .iter()
            .find(|c| **c == field.name().as_str())
        else {
            continue;
        };
        let t = field.data_type();
        let (ok, expected) = match column {
            col::UNBLENDED_COST
            | col::NET_UNBLENDED_COST
            | col::USAGE_AMOUNT
            | col::PUBLIC_ON_DEMAND_COST => (t.is_numeric(), "double"),
            col::USAGE_START_DATE | col::USAGE_END_DATE | col::PRODUCT | col::TAGS => continue,
            _ => (
                is_string(t) || matches!(t, DataType::Dictionary(_, v) if is_string(v)),
                "string",
            ),
        };
        if !ok {
            return Err(CurError::ColumnType {
                object: object.to_string(),
                column,
                found: t.to_string(),
                expected,
            });
        }
    }
    Ok(())
}

enum BatchError {
    Type {
        column: &'static str,
        found: String,
        expected: &'static str,
    },
    Arrow(String),
}

fn type_err(column: &'static str, found: &DataType, expected: &'static str) -> BatchError {
    BatchError::Type {
        column,
        found: found.to_string(),
        expected,
    }
}

fn cast_to(
    array: &ArrayRef,
    to: &DataType,
    column: &'static str,
    expected: &'static str,
) -> Result<ArrayRef, BatchError> {
    if !arrow::compute::can_cast_types(array.data_type(), to) {
        return Err(type_err(column, array.data_type(), expected));
    }
    cast(array, to).map_err(|e| BatchError::Arrow(format!("column {column}: {e}")))
}

/// A string column of one batch, read in place: plain, or dictionary-encoded as decoded (rows
/// are keys into the column chunk's dictionary, so no string is copied).
enum StrCol {
    Plain(StringArray),
    Dict(Int32Array, StringArray),
}

impl StrCol {
    fn of(
        a: &ArrayRef,
        column: &'static str,
        expected: &'static str,
    ) -> Result<StrCol, BatchError> {
        match a.data_type() {
            DataType::Utf8 => Ok(StrCol::Plain(a.as_string::<i32>().clone())),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = a.as_dictionary::<Int32Type>();
                Ok(StrCol::Dict(
                    d.keys().clone(),
                    d.values().as_string::<i32>().clone(),
                ))
            }
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                let plain = cast_to(a, &DataType::Utf8, column, expected)?;
                Ok(StrCol::Plain(plain.as_string::<i32>().clone()))
            }
            other => Err(type_err(column, other, expected)),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrCol::Plain(s) => s.is_valid(i).then(|| s.value(i)),
            StrCol::Dict(keys, values) => {
                if !keys.is_valid(i) {
                    return None;
                }
                let k = keys.value(i) as usize;
                values.is_valid(k).then(|| values.value(k))
            }
        }
    }
}

fn strings(batch: &RecordBatch, column: &'static str) -> Result<Option<StrCol>, BatchError> {
    batch
        .column_by_name(column)
        .map(|a| StrCol::of(a, column, "string"))
        .transpose()
}

fn floats(batch: &RecordBatch, column: &'static str) -> Result<Option<ArrayRef>, BatchError> {
    match batch.column_by_name(column) {
        None => Ok(None),
        Some(a) if a.data_type() == &DataType::Float64 => Ok(Some(a.clone())),
        Some(a) if a.data_type().is_numeric() => {
            cast_to(a, &DataType::Float64, column, "double").map(Some)
        }
        Some(a) => Err(type_err(column, a.data_type(), "double")),
    }
}

/// Milliseconds since the epoch, as an Int64 array.
fn millis(batch: &RecordBatch, column: &'static str) -> Result<Option<ArrayRef>, BatchError> {
    let Some(a) = batch.column_by_name(column) else {
        return Ok(None);
    };
    let ms = match a.data_type() {
        DataType::Timestamp(_, tz) => {
            let t = cast_to(
                a,
                &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
                column,
                "timestamp",
            )?;
            cast_to(&t, &DataType::Int64, column, "timestamp")?
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = cast_to(a, &DataType::Utf8, column, "timestamp")?;
            let s = s.as_string::<i32>();
            let v: arrow::array::Int64Array =
                s.iter().map(|v| v.and_then(parse_iso8601_ms)).collect();
            Arc::new(v) as ArrayRef
        }
        other => return Err(type_err(column, other, "timestamp")),
    };
    Ok(Some(ms))
}

/// A `map<string,string>` column with its keys and values read in place.
struct StrMap {
    map: MapArray,
    keys: StrCol,
    values: StrCol,
}

impl StrMap {
    fn get(batch: &RecordBatch, column: &'static str) -> Result<Option<StrMap>, BatchError> {
        let Some(a) = batch.column_by_name(column) else {
            return Ok(None);
        };
        let DataType::Map(_, _) = a.data_type() else {
            return Err(type_err(column, a.data_type(), "map<string,string>"));
        };
        let map = a.as_map().clone();
        let keys = StrCol::of(map.keys(), column, "map<string,string>")?;
        let values = StrCol::of(map.values(), column, "map<string,string>")?;
        Ok(Some(StrMap { map, keys, values }))
    }

    fn entries(&self, row: usize) -> impl Iterator<Item = (&str, &str)> {
        let range = if self.map.is_null(row) {
            0..0
        } else {
            let o = self.map.value_offsets();
            o[row] as usize..o[row + 1] as usize
        };
        range.filter_map(move |i| Some((self.keys.get(i)?, self.values.get(i)?)))
    }
}

fn opt_str(a: &Option<StrCol>, i: usize) -> Option<&str> {
    a.as_ref()?.get(i)
}

/// Decodes one batch into rows for the sink.
fn decode_batch(batch: &RecordBatch, sink: &mut dyn RowSink) -> Result<(), BatchError> {
    let product_code = strings(batch, col::PRODUCT_CODE)?;
    let billing_entity = strings(batch, col::BILLING_ENTITY)?;
    let line_item_type = strings(batch, col::LINE_ITEM_TYPE)?;
    let usage_type = strings(batch, col::USAGE_TYPE)?;
    let principal = strings(batch, col::IAM_PRINCIPAL)?;
    let account = strings(batch, col::USAGE_ACCOUNT_ID)?;
    let payer = strings(batch, col::PAYER_ACCOUNT_ID)?;
    let currency = strings(batch, col::CURRENCY_CODE)?;
    let region = strings(batch, col::PRODUCT_REGION_CODE)?;
    let pricing_unit = strings(batch, col::PRICING_UNIT)?;
    let product_name_col = strings(batch, col::PRODUCT_PRODUCT_NAME)?;
    let product = StrMap::get(batch, col::PRODUCT)?;
    let tags = StrMap::get(batch, col::TAGS)?;
    let unblended = floats(batch, col::UNBLENDED_COST)?;
    let net = floats(batch, col::NET_UNBLENDED_COST)?;
    let amount = floats(batch, col::USAGE_AMOUNT)?;
    let end = millis(batch, col::USAGE_END_DATE)?;
    let start = millis(batch, col::USAGE_START_DATE)?;
    let end = end.as_ref().map(|e| e.as_primitive::<Int64Type>());
    // Projected by `report` only: absent from the daemon's batches.
    let public_cost = floats(batch, col::PUBLIC_ON_DEMAND_COST)?;
    let invoice = strings(batch, col::INVOICE_ID)?;
    let account_name = strings(batch, col::USAGE_ACCOUNT_NAME)?;

    let f64_at = |a: &Option<ArrayRef>, i: usize| -> Option<f64> {
        let p = a.as_ref()?.as_primitive::<Float64Type>();
        p.is_valid(i).then(|| p.value(i))
    };

    // The batch's arrays live until this function returns and every batch gets its own epoch.
    static EPOCHS: AtomicU64 = AtomicU64::new(1);
    let strings_epoch = EPOCHS.fetch_add(1, AtomicOrdering::Relaxed);
    let mut tag_buf: Vec<(&str, &str)> = Vec::new();
    for i in 0..batch.num_rows() {
        let pc = opt_str(&product_code, i).unwrap_or("");
        let be = opt_str(&billing_entity, i).unwrap_or("");
        if !sink.wants(pc, be) {
            continue;
        }
        let product_name = opt_str(&product_name_col, i).or_else(|| {
            product
                .as_ref()?
                .entries(i)
                .find(|(k, _)| *k == col::PRODUCT_NAME_KEY)
                .map(|(_, v)| v)
        });
        tag_buf.clear();
        if let Some(t) = &tags {
            tag_buf.extend(t.entries(i));
        }
        sink.row(&CurRow {
            product_code: pc,
            billing_entity: be,
            line_item_type: opt_str(&line_item_type, i).unwrap_or(""),
            usage_type: opt_str(&usage_type, i).unwrap_or(""),
            iam_principal: opt_str(&principal, i),
            usage_account_id: opt_str(&account, i).unwrap_or(""),
            payer_account_id: opt_str(&payer, i).unwrap_or(""),
            currency: opt_str(&currency, i).unwrap_or(""),
            product_region_code: opt_str(&region, i).unwrap_or(""),
            pricing_unit: opt_str(&pricing_unit, i).unwrap_or(""),
            product_name,
            unblended_cost: f64_at(&unblended, i).unwrap_or(0.0),
            net_unblended_cost: f64_at(&net, i),
            usage_amount: f64_at(&amount, i).unwrap_or(0.0),
            tags: &tag_buf,
            usage_start_ms: start.as_ref().and_then(|a| {
                let p = a.as_primitive::<Int64Type>();
                p.is_valid(i).then(|| p.value(i))
            }),
            usage_end_ms: end.and_then(|e| e.is_valid(i).then(|| e.value(i))),
            public_on_demand_cost: f64_at(&public_cost, i),
            invoice_id: opt_str(&invoice, i),
            usage_account_name: opt_str(&account_name, i).unwrap_or(""),
            strings_epoch,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::Field;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    /// A Parquet file with one row group per `groups` entry, each a list of (product code,
    /// billing entity, cost) rows.
    fn file(groups: &[&[(&str, &str, f64)]]) -> Bytes {
        let schema = Arc::new(Schema::new(vec![
            Field::new(col::PRODUCT_CODE, DataType::Utf8, true),
            Field::new(col::BILLING_ENTITY, DataType::Utf8, true),
            Field::new(col::UNBLENDED_COST, DataType::Float64, true),
        ]));
        let mut out = Vec::new();
        let props = WriterProperties::builder().build();
        let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
        for rows in groups {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ],
            )
            .unwrap();
            w.write(&batch).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        out.into()
    }

    fn plan_of(bytes: &Bytes) -> ParquetPlan {
        let size = bytes.len() as u64;
        let range = metadata_range(bytes, size, "mem").unwrap();
        ParquetPlan::new(
            &bytes[range.start as usize..range.end as usize],
            size,
            "mem",
        )
        .unwrap()
    }

    #[test]
    fn a_column_of_the_wrong_type_is_an_error_even_without_bedrock_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(col::PRODUCT_CODE, DataType::Int32, true),
            Field::new(col::UNBLENDED_COST, DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow::array::Int32Array::from(vec![7])),
                Arc::new(Float64Array::from(vec![1.0])),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let bytes = Bytes::from(out);
        let size = bytes.len() as u64;
        let range = metadata_range(&bytes, size, "mem").unwrap();
        let e = ParquetPlan::new(
            &bytes[range.start as usize..range.end as usize],
            size,
            "int.parquet",
        )
        .err()
        .expect("a type error")
        .to_string();
        assert!(
            e.contains(
                "int.parquet: column line_item_product_code has type Int32, expected string"
            ),
            "{e}"
        );
    }

    /// The daemon's plan reads (and fetches) no chunk of a column only `report` needs, and is not
    /// troubled by its type; the report's plan reads them and checks them.
    #[test]
    fn report_only_columns_are_read_by_the_report_projection_alone() {
        // A file with the report's columns; `public` is the public on-demand cost column.
        let file = |public: ArrayRef| {
            let schema = Arc::new(Schema::new(vec![
                Field::new(col::PRODUCT_CODE, DataType::Utf8, true),
                Field::new(col::UNBLENDED_COST, DataType::Float64, true),
                Field::new(col::INVOICE_ID, DataType::Utf8, true),
                Field::new(col::USAGE_ACCOUNT_NAME, DataType::Utf8, true),
                Field::new(col::PUBLIC_ON_DEMAND_COST, public.data_type().clone(), true),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec!["AmazonBedrock"])),
                    Arc::new(Float64Array::from(vec![1.5])),
                    Arc::new(StringArray::from(vec!["2026100001"])),
                    Arc::new(StringArray::from(vec!["ml-prod"])),
                    public,
                ],
            )
            .unwrap();
            let mut out = Vec::new();
            let mut w = ArrowWriter::try_new(&mut out, schema, None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            Bytes::from(out)
        };
        type Seen = (Option<String>, String, Option<f64>);
        struct Rows(Vec<Seen>);
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
        let read = |bytes: &Bytes, projection: Projection| -> Result<(usize, Vec<Seen>), String> {
            let size = bytes.len() as u64;
            let range = metadata_range(bytes, size, "mem").unwrap();
            let meta = &bytes[range.start as usize..range.end as usize];
            let plan = ParquetPlan::with_projection(meta, size, "r.parquet", projection)
                .map_err(|e| e.to_string())?;
            let ranges = plan.ranges(0);
            let chunks = ranges
                .iter()
                .map(|r| bytes.slice(r.start as usize..r.end as usize))
                .collect();
            let mut rows = Rows(Vec::new());
            plan.read_row_group(0, &ranges, chunks, "mem", &mut rows)
                .unwrap();
            Ok((ranges.len(), rows.0))
        };
        let good = file(Arc::new(Float64Array::from(vec![1.75])));
        assert_eq!(
            read(&good, Projection::Daemon).unwrap(),
            (2, vec![(None, String::new(), None)]),
            "product code and cost only"
        );
        assert_eq!(
            read(&good, Projection::Report).unwrap(),
            (
                5,
                vec![(Some("2026100001".into()), "ml-prod".into(), Some(1.75))]
            )
        );
        // Report-only strings are read plain, the daemon's as dictionaries (see `with_dictionaries`).
        let size = good.len() as u64;
        let range = metadata_range(&good, size, "mem").unwrap();
        let plan = ParquetPlan::with_projection(
            &good[range.start as usize..range.end as usize],
            size,
            "mem",
            Projection::Report,
        )
        .unwrap();
        let schema = plan.meta.schema();
        let type_of = |c: &str| schema.field_with_name(c).unwrap().data_type().clone();
        assert_eq!(type_of(col::INVOICE_ID), DataType::Utf8);
        assert_eq!(type_of(col::USAGE_ACCOUNT_NAME), DataType::Utf8);
        assert_eq!(type_of(col::PRODUCT_CODE), dict_utf8());
        // A report-only column of the wrong type spoils only a read that projects it.
        let odd = file(Arc::new(StringArray::from(vec!["1.75"])));
        assert_eq!(read(&odd, Projection::Daemon).unwrap().0, 2);
        let e = read(&odd, Projection::Report).unwrap_err();
        assert!(
            e.contains("column pricing_public_on_demand_cost has type")
                && e.contains("expected double"),
            "{e}"
        );
    }

    const PF: Prefilter = Prefilter {
        product_codes: &["AmazonBedrock", "AmazonBedrockService"],
        billing_entities: &["AWS Marketplace"],
    };

    #[test]
    fn row_groups_whose_statistics_rule_out_bedrock_are_skipped() {
        let f = file(&[
            &[("AmazonEC2", "AWS", 1.0), ("AmazonS3", "AWS", 2.0)],
            &[("AWSLambda", "AWS", 1.0), ("AmazonS3", "AWS", 2.0)],
            &[("AmazonEC2", "AWS Marketplace", 1.0)],
            &[("AmazonBedrockService", "AWS", 3.0)],
        ]);
        let plan = plan_of(&f);
        assert_eq!(plan.row_groups(), 4);
        // "AmazonBedrock…" sorts before "AmazonEC2": the range AmazonEC2..AmazonS3 excludes it.
        assert!(!plan.may_hold(0, &PF));
        // "AWSLambda" < "AmazonBedrock" < "AmazonS3": statistics cannot rule it out.
        assert!(plan.may_hold(1, &PF));
        assert!(plan.may_hold(2, &PF), "a Marketplace entity");
        assert!(plan.may_hold(3, &PF));
    }

    #[test]
    fn a_row_group_decodes_from_its_column_chunks_alone() {
        let f = file(&[
            &[("AmazonEC2", "AWS", 1.0)],
            &[("AmazonBedrock", "AWS", 0.25), ("AmazonS3", "AWS", 9.0)],
        ]);
        let plan = plan_of(&f);
        let ranges = plan.ranges(1);
        let bytes = ranges
            .iter()
            .map(|r| f.slice(r.start as usize..r.end as usize))
            .collect();
        struct Costs(Vec<(String, f64)>);
        impl RowSink for Costs {
            fn wants(&mut self, _: &str, _: &str) -> bool {
                true
            }
            fn row(&mut self, row: &CurRow<'_>) {
                self.0
                    .push((row.product_code.to_string(), row.unblended_cost));
            }
        }
        let mut sink = Costs(Vec::new());
        plan.read_row_group(1, &ranges, bytes, "mem", &mut sink)
            .unwrap();
        assert_eq!(
            sink.0,
            vec![("AmazonBedrock".into(), 0.25), ("AmazonS3".into(), 9.0)]
        );
        // Without its bytes, a clear error rather than a wrong answer.
        let e = plan
            .read_row_group(1, &ranges, Vec::new(), "mem", &mut Costs(Vec::new()))
            .unwrap_err();
        assert!(e.to_string().starts_with("mem: row group 1:"), "{e}");
    }
}
