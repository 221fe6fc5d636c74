//! The configuration loader on arbitrary TOML text: defaults, then the text, then the checks
//! (`config::check`), as `load` does for a file (without the environment).
//!
//! A text that loads prints (`effective_toml`, what `check-config` shows) as TOML that
//! loads back to the same configuration; one that does not load gives an error naming a key, the
//! budget or the file's place, never a panic.

#![no_main]

use bedrock_cost_exporter::config::{self, ConfigError, RawConfig};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use libfuzzer_sys::fuzz_target;

fn load(text: &str) -> Option<Result<config::Config, ConfigError>> {
    let fig = Figment::from(Serialized::defaults(RawConfig::default())).merge(Toml::string(text));
    // `listen` may name a host, which would be resolved: only addresses are fuzzed.
    if let Ok(v) = fig.find_value("listen")
        && v.as_str()
            .is_none_or(|s| s.trim().parse::<std::net::SocketAddr>().is_err())
    {
        return None;
    }
    Some(
        fig.extract::<RawConfig>()
            .map_err(|e| ConfigError::Figment(Box::new(e)))
            .and_then(config::check),
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(loaded) = load(text) else {
        return;
    };
    match loaded {
        Ok(c) => {
            let printed = config::effective_toml(&c);
            let again = load(&printed)
                .expect("the printed listen address is an address")
                .unwrap_or_else(|e| {
                    panic!("the printed configuration does not load: {e}\n{printed}")
                });
            // OTLP header values are named, never printed (they may hold tokens): compare the rest.
            let strip = |c: config::Config| config::Config {
                otlp: c
                    .otlp
                    .map(|o| bedrock_cost_exporter::metrics::otlp::OtlpSettings {
                        headers: Default::default(),
                        ..o
                    }),
                ..c
            };
            assert_eq!(
                strip(again),
                strip(c),
                "the printed configuration loads to another one:\n{printed}"
            );
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // Every problem at once, each naming its key.
            for one in e.each() {
                let text = one.to_string();
                if let ConfigError::Invalid { key, .. } = one {
                    assert!(text.starts_with(&format!("config key `{key}` ")), "{text}");
                }
            }
        }
    }
});
