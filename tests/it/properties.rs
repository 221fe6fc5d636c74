//! Property tests (proptest, stable Rust): the pure parsers never panic and keep their promises,
//! the CSV decoder agrees with the `csv` crate, and label values survive the exposition.

use proptest::prelude::*;

use bedrock_cost_exporter::bedrock::{principal, tags, usage_type};
use bedrock_cost_exporter::cur::{CurRow, RowSink};

use crate::corpus::{HEADER, row};
use crate::util::*;

/// Strings with the characters that break parsers: separators, quotes, escapes, newlines, BOM,
/// non-ASCII.
fn nasty() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(','), 1 => Just('"'), 1 => Just('\\'), 1 => Just('\n'), 1 => Just('\r'),
            1 => Just('-'), 1 => Just(':'), 1 => Just('/'), 1 => Just('='), 1 => Just('{'),
            1 => Just('\u{feff}'), 1 => Just('é'), 1 => Just(' '), 1 => Just('_'),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn usage_type_parsing_is_total_and_keeps_to_its_grammar(s in nasty(), prefix in "(USE1|EU|APS4|XX9)-", body in "[A-Za-z0-9.]{1,12}(-(input|output|cache-read|cache-write|batch|Geo|Global))*-tokens") {
        let _ = usage_type::parse(&s);
        let u = usage_type::parse(&format!("{prefix}{body}"));
        if let Some(m) = &u.model {
            prop_assert!(!m.is_empty());
            prop_assert!(!m.contains('-') || m.len() > 1);
        }
        if let Some(r) = u.region {
            prop_assert!(bedrock_cost_exporter::bedrock::region::is_region_code(r));
        }
    }

    #[test]
    fn arn_parsing_is_total_and_names_are_parts_of_the_arn(s in nasty(), role in "[A-Za-z0-9+=,.@_-]{1,20}", session in "[A-Za-z0-9+=,.@_-]{1,20}") {
        let p = principal::parse(Some(&s));
        prop_assert!(s.contains(p.name) && s.contains(p.session));
        let arn = format!("arn:aws:sts::111122223333:assumed-role/{role}/{session}");
        let p = principal::parse(Some(&arn));
        prop_assert_eq!(p.kind.as_str(), "assumed_role");
        prop_assert_eq!(p.name, role.as_str());
        prop_assert_eq!(p.session, session.as_str());
        let _ = principal::fold_session(&s);
    }

    #[test]
    fn tag_keys_always_map_to_valid_label_names(key in nasty(), source in prop_oneof![Just("iamPrincipal"), Just("costCategory")]) {
        let rules = tags::TagRules {
            sources: ["iamPrincipal", "costCategory"].map(String::from).into(),
            ..tags::TagRules::default()
        };
        if let Some(label) = rules.label_for(&format!("{source}/{key}")) {
            prop_assert!(tags::is_label_name(&label), "{:?} → {:?}", key, label);
            prop_assert!(label.starts_with("tag_"));
        }
        let s = tags::snake_case(&key);
        prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        prop_assert!(!s.starts_with('_') && !s.ends_with('_') && !s.contains("__"));
    }
}

/// Collects what the decoder hands out.
#[derive(Default)]
struct Rows(Vec<Decoded>);

/// Principal, account, cost and tags of one decoded row.
type Decoded = (String, String, f64, Vec<(String, String)>);

impl RowSink for Rows {
    fn wants(&mut self, product_code: &str, _: &str) -> bool {
        product_code == "AmazonBedrock"
    }
    fn row(&mut self, r: &CurRow<'_>) {
        self.0.push((
            r.iam_principal.unwrap_or("").to_string(),
            r.usage_account_id.to_string(),
            r.unblended_cost,
            r.tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Records written by the `csv` crate (any text in the principal and account cells, CRLF or
    /// LF) are read back by our scanner exactly as the `csv` crate reads them.
    #[test]
    fn the_csv_decoder_reads_what_the_csv_crate_reads(cells in proptest::collection::vec((nasty(), nasty(), 0u32..100_000), 0..20), crlf in any::<bool>()) {
        let mut w = csv::WriterBuilder::new()
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        w.write_record(HEADER).unwrap();
        for (p, a, c) in &cells {
            let mut r = row(a, &(*c as f64 / 64.0).to_string());
            r[4] = p.clone();
            w.write_record(&r).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let mut theirs = Vec::new();
        let mut rd = csv::ReaderBuilder::new().from_reader(&bytes[..]);
        for rec in rd.records() {
            let rec = rec.unwrap();
            if rec.iter().all(|f| f.is_empty()) { continue; }
            theirs.push((rec[4].to_string(), rec[5].to_string(), rec[9].parse::<f64>().unwrap()));
        }
        let mut ours = Rows::default();
        let res = bedrock_cost_exporter::cur::csv::read(&bytes[..], false, "prop.csv", &mut ours);
        // A record of one empty-looking field is skipped by both as a blank line.
        prop_assert!(res.is_ok(), "{:?}", res.err().map(|e| e.to_string()));
        let ours: Vec<(String, String, f64)> = ours.0.into_iter().map(|(p, a, c, _)| (p, a, c)).collect();
        prop_assert_eq!(ours, theirs);
    }

    /// Arbitrary bytes after a good header: a clean error or rows, never a panic; when the `csv`
    /// crate finds ragged records, so do we.
    #[test]
    fn the_csv_decoder_never_panics_on_arbitrary_bytes(body in proptest::collection::vec(prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), any::<u8>()], 0..400)) {
        let mut bytes = HEADER.join(",").into_bytes();
        bytes.push(b'\n');
        bytes.extend(&body);
        let mut ours = Rows::default();
        let res = bedrock_cost_exporter::cur::csv::read(&bytes[..], false, "prop.csv", &mut ours);
        if let Err(e) = &res {
            prop_assert!(e.to_string().starts_with("prop.csv: "), "{}", e);
        }
        let _ = bedrock_cost_exporter::cur::csv::read(&bytes[..], true, "prop.csv.gz", &mut Rows::default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any principal and tag value, through the whole daemon: rendered, parsed back, equal.
    #[test]
    fn label_values_survive_the_exposition(principal in nasty(), team in nasty()) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let data = root.join("data/BILLING_PERIOD=2026-11");
        let meta = root.join("metadata/BILLING_PERIOD=2026-11");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&meta).unwrap();
        let mut r = row("111122223333", "1.5");
        r[4] = principal.clone();
        r[14] = serde_json::json!({ "iamPrincipal/team": team }).to_string();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(HEADER).unwrap();
        w.write_record(&r).unwrap();
        std::fs::write(data.join("x.csv"), w.into_inner().unwrap()).unwrap();
        std::fs::write(meta.join("cur2-Manifest.json"), serde_json::json!({"dataFiles": ["s3://b/p/data/BILLING_PERIOD=2026-11/x.csv"]}).to_string()).unwrap();
        let text = once(root, &[]);
        let m = parse_exposition(&text);
        let s = samples(&m, "bedrock_cost_usd");
        prop_assert_eq!(s.len(), 1);
        let want = if principal.trim().is_empty() { "unattributed" } else { principal.trim() };
        prop_assert_eq!(s[0].label("principal"), want);
        prop_assert_eq!(s[0].label("tag_team"), team.as_str());
        prop_assert_eq!(s[0].value, 1.5);
    }
}

/// Two spellings of one tag name (words joined by `-`, ` `, `_`, `.` or in camel case, any
/// capitalisation of their first letters), which snake-case to the same label name.
fn two_spellings() -> impl Strategy<Value = (String, String)> {
    let spelling = |words: Vec<String>| {
        (
            proptest::collection::vec(
                prop_oneof![Just("-"), Just(" "), Just("_"), Just("."), Just("")],
                words.len(),
            ),
            proptest::collection::vec(any::<bool>(), words.len()),
        )
            .prop_map(move |(seps, caps)| {
                let mut out = String::new();
                for (i, w) in words.iter().enumerate() {
                    // Camel case ("" between words) needs the word to start upper-case.
                    let cap = caps[i] || (i > 0 && seps[i].is_empty());
                    if i > 0 {
                        out.push_str(seps[i]);
                    }
                    let mut cs = w.chars();
                    let first = cs.next().unwrap();
                    out.push(if cap {
                        first.to_ascii_uppercase()
                    } else {
                        first
                    });
                    out.extend(cs);
                }
                out
            })
    };
    proptest::collection::vec("[a-z]{2,6}", 1..4)
        .prop_flat_map(move |words| (spelling(words.clone()), spelling(words)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Two tag keys of one line item that map to one label name: the first key in sort order
    /// wins (README, "Labels"), whatever order the row lists them in, and each such row counts
    /// one collision in `tag_label_collisions`. A key whose value is empty is absent, so it
    /// neither wins nor collides. Every label is a valid label name.
    #[test]
    fn colliding_tag_keys_resolve_to_the_first_key_sorted(
        (a, b) in two_spellings(),
        (va, vb) in ("[a-z0-9]{0,4}", "[a-z0-9]{1,4}"),
        other in "[a-z]{1,5}-x",
        reversed in any::<bool>(),
        rows in 1u64..4,
    ) {
        use bedrock_cost_exporter::aggregate::{AggregateOptions, PeriodAggregator};
        let (ka, kb) = (format!("iamPrincipal/{a}"), format!("iamPrincipal/{b}"));
        prop_assume!(ka != kb);
        let opts = AggregateOptions::default();
        let (la, lb) = (opts.tags.label_for(&ka), opts.tags.label_for(&kb));
        prop_assert_eq!(&la, &lb, "{:?} and {:?} are spellings of one name", a, b);
        let label = la.unwrap();
        prop_assert!(tags::is_label_name(&label), "{:?}", label);
        let other_key = format!("iamPrincipal/{other}");
        let other_label = opts.tags.label_for(&other_key).unwrap();
        prop_assume!(other_label != label);
        let mut tag_list = vec![(ka.as_str(), va.as_str()), (other_key.as_str(), "o"), (kb.as_str(), vb.as_str())];
        if reversed {
            tag_list.reverse();
        }
        let mut agg = PeriodAggregator::new("2026-11", &opts);
        for _ in 0..rows {
            agg.row(&CurRow {
                product_code: "AmazonBedrock",
                billing_entity: "AWS",
                line_item_type: "Usage",
                usage_type: "USE1-NovaLite-input-tokens",
                unblended_cost: 1.0,
                tags: &tag_list,
                ..CurRow::default()
            });
        }
        let out = agg.finish();
        // The first key in sort order whose value is not empty.
        let mut present: Vec<(&str, &str)> = vec![(&ka, &va), (&kb, &vb)];
        present.retain(|(_, v)| !v.is_empty());
        present.sort();
        let want = present[0].1;
        prop_assert_eq!(out.stats.tag_label_collisions, rows * (present.len() as u64 - 1));
        let series = out.series();
        prop_assert_eq!(series.len(), 1);
        let got: Vec<(String, String)> = series[0].labels.tags.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect();
        let mut expected = vec![(label.clone(), want.to_string()), (other_label, "o".to_string())];
        expected.sort();
        prop_assert_eq!(got, expected);
        for (l, _) in &series[0].labels.tags {
            prop_assert!(tags::is_label_name(l), "{:?}", l);
        }
    }
}
