//! Streaming Parquet decoding: one row group at a time, only the projected columns, rows handed
//! to a [`RowSink`]. Memory is bounded by one batch of the projected columns.
//!
//! Physical types are read defensively (reference §2.4): strings may be plain, large, view or
//! dictionary-encoded; timestamps may be INT64 (any unit, with or without a time zone) or INT96;
//! numbers may be any numeric type (costs are documented as double).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, MapArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, Schema, TimeUnit};
use futures::StreamExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::reader::ChunkReader;

use super::CurError;
use super::columns as col;
use super::row::{CurRow, FileStats, Prefilter, RowSink};
use super::time::parse_iso8601_ms;

/// Rows per decoded batch.
pub const BATCH_ROWS: usize = 8192;

/// A Parquet input that can be reopened once per row group.
pub trait ParquetInput: ChunkReader + Sized + 'static {
    fn dup(&self) -> std::io::Result<Self>;
}

impl ParquetInput for File {
    fn dup(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
}

impl ParquetInput for bytes::Bytes {
    fn dup(&self) -> std::io::Result<Self> {
        Ok(self.clone())
    }
}

/// Reads a Parquet data file; `object` names it in errors.
pub fn read<R: ParquetInput>(
    input: R,
    object: &str,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let bytes = input.len();
    let meta = ArrowReaderMetadata::load(&input, ArrowReaderOptions::new()).map_err(|source| {
        CurError::ParquetFile {
            object: object.to_string(),
            source,
        }
    })?;
    let (meta, mask, mut stats) = plan(meta, object)?;
    stats.bytes = bytes;
    for rg in 0..meta.metadata().num_row_groups() {
        let rg_err = |message: String| CurError::ParquetRowGroup {
            object: object.to_string(),
            row_group: rg,
            message,
        };
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            input.dup().map_err(|e| rg_err(e.to_string()))?,
            meta.clone(),
        )
        .with_projection(mask.clone())
        .with_row_groups(vec![rg])
        .with_batch_size(BATCH_ROWS);
        if let Some(filter) = row_filter(&meta, sink.prefilter()) {
            builder = builder.with_row_filter(filter);
        }
        stats.rows += meta.metadata().row_group(rg).num_rows() as u64;
        let reader = builder.build().map_err(|e| rg_err(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| rg_err(e.to_string()))?;
            decode_batch(&batch, sink).map_err(|e| batch_error(e, object, rg))?;
        }
    }
    Ok(stats)
}

/// Reads a Parquet data file through an async reader (ranged GETs): footer first, then per row
/// group only the projected columns' chunks. `FileStats::bytes` is left 0: the reader counts what
/// it fetched.
pub async fn read_async<R: AsyncFileReader + Clone + Unpin + 'static>(
    mut input: R,
    object: &str,
    sink: &mut dyn RowSink,
) -> Result<FileStats, CurError> {
    let meta = ArrowReaderMetadata::load_async(&mut input, ArrowReaderOptions::new())
        .await
        .map_err(|source| CurError::ParquetFile {
            object: object.to_string(),
            source,
        })?;
    let (meta, mask, mut stats) = plan(meta, object)?;
    for rg in 0..meta.metadata().num_row_groups() {
        let rg_err = |message: String| CurError::ParquetRowGroup {
            object: object.to_string(),
            row_group: rg,
            message,
        };
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(input.clone(), meta.clone())
                .with_projection(mask.clone())
                .with_row_groups(vec![rg])
                .with_batch_size(BATCH_ROWS);
        if let Some(filter) = row_filter(&meta, sink.prefilter()) {
            builder = builder.with_row_filter(filter);
        }
        stats.rows += meta.metadata().row_group(rg).num_rows() as u64;
        let mut stream = builder.build().map_err(|e| rg_err(e.to_string()))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| rg_err(e.to_string()))?;
            decode_batch(&batch, sink).map_err(|e| batch_error(e, object, rg))?;
        }
    }
    Ok(stats)
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
            message,
        },
    }
}

fn dict_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The same metadata, with top-level string columns read as dictionary arrays: CUR strings repeat
/// (a few product codes, usage types, principals), so rows carry keys into a small dictionary
/// instead of copies of the strings.
fn with_dictionaries(
    meta: ArrowReaderMetadata,
    object: &str,
) -> Result<ArrowReaderMetadata, CurError> {
    let fields: Vec<arrow::datatypes::FieldRef> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => {
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
) -> Result<(ArrowReaderMetadata, ProjectionMask, FileStats), CurError> {
    let meta = with_dictionaries(meta, object)?;
    let (roots, missing) = projection(meta.schema(), object)?;
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
    let stats = FileStats {
        missing_columns: missing,
        ..FileStats::default()
    };
    Ok((meta, mask, stats))
}

/// Top-level column indices to read, and the optional columns that are absent.
fn projection(schema: &Schema, object: &str) -> Result<(Vec<usize>, Vec<&'static str>), CurError> {
    for &column in col::REQUIRED {
        if schema.index_of(column).is_err() {
            return Err(CurError::MissingColumn {
                object: object.to_string(),
                column,
            });
        }
    }
    let mut roots = Vec::new();
    let mut missing = Vec::new();
    for &name in col::ALL {
        match schema.index_of(name) {
            Ok(i) => roots.push(i),
            Err(_) if name == col::PRODUCT_PRODUCT_NAME || name == col::PRODUCT => {}
            Err(_) => missing.push(name),
        }
    }
    Ok((roots, missing))
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

fn strings(batch: &RecordBatch, column: &'static str) -> Result<Option<ArrayRef>, BatchError> {
    match batch.column_by_name(column) {
        None => Ok(None),
        Some(a) if a.data_type() == &DataType::Utf8 => Ok(Some(a.clone())),
        Some(a) => match a.data_type() {
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                cast_to(a, &DataType::Utf8, column, "string").map(Some)
            }
            other => Err(type_err(column, other, "string")),
        },
    }
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

/// A `map<string,string>` column with its keys and values as plain strings.
struct StrMap {
    map: MapArray,
    keys: ArrayRef,
    values: ArrayRef,
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
        let as_str = |x: &ArrayRef| match x.data_type() {
            DataType::Utf8 => Ok(x.clone()),
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                cast_to(x, &DataType::Utf8, column, "map<string,string>")
            }
            other => Err(type_err(column, other, "map<string,string>")),
        };
        let keys = as_str(map.keys())?;
        let values = as_str(map.values())?;
        Ok(Some(StrMap { map, keys, values }))
    }

    fn entries(&self, row: usize) -> impl Iterator<Item = (&str, &str)> {
        let range = if self.map.is_null(row) {
            0..0
        } else {
            let o = self.map.value_offsets();
            o[row] as usize..o[row + 1] as usize
        };
        let keys = self.keys.as_string::<i32>();
        let values = self.values.as_string::<i32>();
        range
            .filter(move |&i| keys.is_valid(i) && values.is_valid(i))
            .map(move |i| (keys.value(i), values.value(i)))
    }
}

fn opt_str(a: &Option<ArrayRef>, i: usize) -> Option<&str> {
    let s: &StringArray = a.as_ref()?.as_string::<i32>();
    s.is_valid(i).then(|| s.value(i))
}

/// Decodes one batch into rows for the sink.
fn decode_batch(batch: &RecordBatch, sink: &mut dyn RowSink) -> Result<(), BatchError> {
    let product_code = strings(batch, col::PRODUCT_CODE)?;
    let billing_entity = strings(batch, col::BILLING_ENTITY)?;
    let line_item_type = strings(batch, col::LINE_ITEM_TYPE)?;
    let usage_type = strings(batch, col::USAGE_TYPE)?;
    let principal = strings(batch, col::IAM_PRINCIPAL)?;
    let account = strings(batch, col::USAGE_ACCOUNT_ID)?;
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
    let end = end.as_ref().map(|e| e.as_primitive::<Int64Type>());

    let f64_at = |a: &Option<ArrayRef>, i: usize| -> Option<f64> {
        let p = a.as_ref()?.as_primitive::<Float64Type>();
        p.is_valid(i).then(|| p.value(i))
    };

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
            currency: opt_str(&currency, i).unwrap_or(""),
            product_region_code: opt_str(&region, i).unwrap_or(""),
            pricing_unit: opt_str(&pricing_unit, i).unwrap_or(""),
            product_name,
            unblended_cost: f64_at(&unblended, i).unwrap_or(0.0),
            net_unblended_cost: f64_at(&net, i),
            usage_amount: f64_at(&amount, i).unwrap_or(0.0),
            tags: &tag_buf,
            usage_end_ms: end.and_then(|e| e.is_valid(i).then(|| e.value(i))),
        });
    }
    Ok(())
}
