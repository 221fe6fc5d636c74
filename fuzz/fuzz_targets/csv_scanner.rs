//! The CSV scanner (`cur::csv::read`) on arbitrary bytes after a CUR header.
//!
//! Plain text: either the scanner returns rows and they are exactly the records the `csv` crate
//! reads from the same bytes (same count, same cells, same costs), or it returns an error naming
//! the object and a line. The same bytes through a prefiltering sink (which splits only records
//! that may be Bedrock) give exactly the subset of those rows, or an error. As gzip: a clean error
//! or rows, never a panic.

#![no_main]

use bedrock_cost_exporter::cur::{CurRow, Prefilter, RowSink, csv as cur_csv};
use libfuzzer_sys::fuzz_target;

const HEADER: &str = "line_item_product_code,bill_billing_entity,line_item_usage_type,line_item_iam_principal,line_item_unblended_cost,tags\n";
const OBJECT: &str = "fuzz.csv";

/// Product code, billing entity, usage type, principal, cost and the number of tags of one row.
type Row = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, u64, usize);

struct Collect {
    prefilter: bool,
    rows: Vec<Row>,
}

impl RowSink for Collect {
    fn prefilter(&self) -> Option<Prefilter> {
        self.prefilter.then_some(Prefilter {
            product_codes: &["AmazonBedrock"],
            billing_entities: &[],
        })
    }
    fn wants(&mut self, product_code: &str, _: &str) -> bool {
        !self.prefilter || product_code == "AmazonBedrock"
    }
    fn row(&mut self, r: &CurRow<'_>) {
        self.rows.push((
            r.product_code.into(),
            r.billing_entity.into(),
            r.usage_type.into(),
            r.iam_principal.unwrap_or("").into(),
            r.unblended_cost.to_bits(),
            r.tags.len(),
        ));
    }
}

/// What the `csv` crate reads, as rows; `None` when it finds the input malformed for our purpose
/// (ragged records, cells that are not UTF-8, numbers or JSON objects).
fn reference(bytes: &[u8]) -> Option<Vec<Row>> {
    let mut rd = csv::ReaderBuilder::new().from_reader(bytes);
    let mut rows = Vec::new();
    for rec in rd.byte_records() {
        let rec = rec.ok()?;
        if rec.len() != 6 {
            return None;
        }
        let text = |i: usize| std::str::from_utf8(&rec[i]).ok();
        for i in 0..6 {
            text(i)?;
        }
        let cost = match text(4)?.trim() {
            "" => 0.0,
            s => s.parse::<f64>().ok()?,
        };
        let tags = match text(5)?.trim() {
            "" => 0,
            s => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s)
                .ok()?
                .values()
                .filter(|v| !v.is_null())
                .count(),
        };
        rows.push((
            rec[0].to_vec(),
            rec[1].to_vec(),
            rec[2].to_vec(),
            rec[3].to_vec(),
            cost.to_bits(),
            tags,
        ));
    }
    Some(rows)
}

fn check_error(e: &bedrock_cost_exporter::cur::CurError) {
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{OBJECT}: line ")),
        "the error names the object and line: {text}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        // Arbitrary bytes as a gzip object: rows or a clean error.
        let mut sink = Collect {
            prefilter: false,
            rows: Vec::new(),
        };
        let _ = cur_csv::read(body, true, "fuzz.csv.gz", &mut sink);
        return;
    }
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(body);
    let mut all = Collect {
        prefilter: false,
        rows: Vec::new(),
    };
    let ours = cur_csv::read(&bytes[..], false, OBJECT, &mut all);
    match &ours {
        Ok(stats) => {
            let theirs = reference(&bytes).unwrap_or_else(|| {
                panic!(
                    "we read {} rows where the csv crate finds malformed input",
                    all.rows.len()
                )
            });
            assert_eq!(all.rows, theirs, "the scanner and the csv crate disagree");
            assert_eq!(stats.rows as usize, theirs.len());
        }
        Err(e) => check_error(e),
    }
    // The prefiltering read: the Bedrock subset of the full read, or an error.
    let mut some = Collect {
        prefilter: true,
        rows: Vec::new(),
    };
    match cur_csv::read(&bytes[..], false, OBJECT, &mut some) {
        Ok(_) => {
            if ours.is_ok() {
                let want: Vec<Row> = all
                    .rows
                    .into_iter()
                    .filter(|r| r.0 == b"AmazonBedrock")
                    .collect();
                assert_eq!(some.rows, want, "the prefilter changed the Bedrock rows");
            } else if let Some(theirs) = reference(&bytes) {
                // Malformed only outside the Bedrock rows: those rows are still the csv crate's.
                let want: Vec<Row> = theirs
                    .into_iter()
                    .filter(|r| r.0 == b"AmazonBedrock")
                    .collect();
                assert_eq!(some.rows, want, "the prefilter read other Bedrock rows");
            }
        }
        Err(e) => check_error(&e),
    }
});
