//! JSON: the whole report in one object, described by the JSON Schema in
//! docs/src/report.schema.json (checked against every test report with check-jsonschema).
//! Figures are JSON numbers in full precision, `null` where the CSV cell is empty; label values
//! are strings under their label names in each row's `labels`.

use serde_json::{Map, Value, json};

use super::Report;
use crate::budget::CostKind;
use crate::report::group::Row;
use crate::report::provenance::{Invoice, rfc3339};

/// Version of the document's shape (`schema_version`); a change that breaks a reader bumps it.
pub const SCHEMA_VERSION: u64 = 1;

/// The report as a JSON document (pretty-printed, ending in a newline).
pub fn render(report: &Report) -> Vec<u8> {
    let meta = &report.meta;
    let table = &report.table;
    let invoice = match &meta.invoice {
        Invoice::Invoiced { ids } => json!({"status": "invoiced", "invoice_ids": ids}),
        Invoice::Open {
            without,
            line_items,
        } => json!({
            "status": "open",
            "line_items_without_invoice_id": without,
            "bedrock_line_items": line_items,
        }),
        Invoice::Unknown { reason } => json!({"status": "unknown", "reason": reason}),
    };
    let mut invoice = invoice;
    invoice["description"] = Value::String(meta.invoice.describe(&meta.period));
    let sources: Vec<Value> = meta
        .sources
        .iter()
        .map(|s| {
            json!({
                "export": s.export,
                "billing_period": s.billing_period,
                "manifest": s.manifest,
                "execution_id": s.execution_id,
                "manifest_last_modified": s.manifest_last_modified_ms.map(rfc3339),
                "files": s.files,
                "rows": s.rows,
                "bedrock_line_items": s.bedrock_line_items,
                "sample": s.sample,
            })
        })
        .collect();
    let currencies: Vec<Value> = table
        .currencies
        .iter()
        .map(|c| {
            json!({
                "currency": c.currency,
                "rows": c.rows.iter().map(|r| row(report, r)).collect::<Vec<_>>(),
                "total": row(report, &c.total),
                "overlap": c.overlap.as_ref().map(|o| json!({
                    "rows_cost": o.rows_cost,
                    "total": o.total,
                })),
            })
        })
        .collect();
    let doc = json!({
        "schema_version": SCHEMA_VERSION,
        "generator": format!("bedrock-cost-exporter {}", env!("CARGO_PKG_VERSION")),
        "billing_period": meta.period,
        "previous_billing_period": meta.previous_period,
        "closed": meta.closed,
        "as_of": rfc3339(meta.now_ms),
        "by": table.by,
        "top": table.top,
        "invoice": invoice,
        "sources": sources,
        "notes": meta.notes,
        "currencies": currencies,
    });
    let mut out = serde_json::to_vec_pretty(&doc).expect("a JSON value serialises");
    out.push(b'\n');
    out
}

fn row(report: &Report, r: &Row) -> Value {
    let table = &report.table;
    let labels: Map<String, Value> = table
        .by
        .iter()
        .zip(&r.labels)
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let f = &r.figures;
    let mut out = json!({
        "row_type": r.kind.as_str(),
        "labels": labels,
        "cost": f.cost,
        "net_cost": f.net_cost,
        "share": f.share,
        "input_tokens": f.input_tokens,
        "output_tokens": f.output_tokens,
        "cost_per_million_tokens": f.cost_per_million_tokens,
        "previous_cost": f.previous_cost,
        "change": f.change,
        "change_ratio": f.change_ratio,
        "public_on_demand_cost": f.public_on_demand_cost,
        "discount": f.discount,
        "cache_read_share": f.cache_read_share,
    });
    if table.with_account_name() {
        out["account_name"] = r.account_name.clone().map_or(Value::Null, Value::String);
    }
    if table.with_budget() {
        out["budget"] = match &r.budget {
            None => Value::Null,
            Some(b) => json!({
                "owner": b.owner,
                "cost_basis": match b.basis {
                    CostKind::Unblended => "cost",
                    CostKind::Net => "net_cost",
                },
                "spend": b.spend,
                "limit": b.limit,
                "limit_used": b.used(),
            }),
        };
    }
    out
}
