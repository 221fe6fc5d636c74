//! The manifest parser (`cur::manifest::parse`) and the key helpers on arbitrary bytes.
//!
//! A manifest that parses re-serialises (under another bucket and prefix) to JSON that parses to
//! the same manifest, and every data file it lists is a plain key under `data/BILLING_PERIOD=…`,
//! listed once; one that does not parse gives an error naming the object. Any key's billing period
//! is `YYYY-MM`.

#![no_main]

use bedrock_cost_exporter::cur::manifest;
use libfuzzer_sys::fuzz_target;

const OBJECT: &str = "metadata/BILLING_PERIOD=2026-11/cur2-Manifest.json";

fuzz_target!(|data: &[u8]| {
    match manifest::parse(data, OBJECT) {
        Ok(m) => {
            let mut seen = std::collections::HashSet::new();
            for f in &m.data_files {
                assert!(f.starts_with("data/BILLING_PERIOD="), "{f:?}");
                assert!(
                    !f.split(['/', '\\']).any(|s| s == "." || s == ".."),
                    "{f:?} has a dot segment"
                );
                assert!(seen.insert(f), "{f:?} listed twice");
            }
            assert_ne!(m.execution_id.as_deref(), Some(""));
            let mut json = serde_json::json!({
                "dataFiles": m.data_files.iter().map(|f| format!("s3://other-bucket/x/y/{f}")).collect::<Vec<_>>(),
            });
            if let Some(id) = &m.execution_id {
                json["executionId"] = id.clone().into();
            }
            let again = manifest::parse(json.to_string().as_bytes(), OBJECT)
                .unwrap_or_else(|e| panic!("a re-serialised manifest does not parse: {e}"));
            assert_eq!(again, m, "the manifest does not survive a round trip");
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with(&format!("{OBJECT}: manifest: ")), "{text}");
        }
    }
    let key = String::from_utf8_lossy(data);
    if let Some(p) = manifest::period_of_key(&key) {
        let b = p.as_bytes();
        assert!(b.len() == 7 && b[4] == b'-', "{p:?}");
        assert!(
            b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit()),
            "{p:?}"
        );
    }
    if let Some(folder) = manifest::execution_folder(&key) {
        assert!(!folder.contains('/') && key.contains(folder));
    }
    if let Some(k) = manifest::resolve_data_file(&key) {
        assert!(k.starts_with("data/BILLING_PERIOD=") && key.ends_with(&k));
    }
});
