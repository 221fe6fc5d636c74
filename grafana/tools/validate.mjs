// Validates Grafana dashboard JSON files against a JSON schema generated from @grafana/schema's
// `Dashboard` type (ts-json-schema-generator), with ajv. Offline: everything comes from
// node_modules (installed by scripts/test.sh with `npm ci`).
//
//   node grafana/tools/validate.mjs [--schema-out FILE] DASHBOARD.json...
//
// Prints one line per file, "ok FILE" or "invalid FILE: <instance path> <message>" per error, and
// exits 1 when any file is invalid.
import { createGenerator } from "ts-json-schema-generator";
import Ajv from "ajv";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const types = path.join(here, "node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts");
const args = process.argv.slice(2);
let schemaOut = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--schema-out") schemaOut = args[++i];
  else files.push(args[i]);
}
const schema = createGenerator({ path: types, type: "Dashboard", skipTypeCheck: true }).createSchema("Dashboard");
if (schemaOut) fs.writeFileSync(schemaOut, JSON.stringify(schema, null, 2));
const pkg = JSON.parse(fs.readFileSync(path.join(here, "node_modules/@grafana/schema/package.json"), "utf8"));
console.log(`schema from @grafana/schema ${pkg.version} (Dashboard)`);

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
let bad = 0;
for (const f of files) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(f, "utf8"));
  } catch (e) {
    console.log(`invalid ${f}: not JSON: ${e.message}`);
    bad++;
    continue;
  }
  if (validate(doc)) {
    console.log(`ok ${f}`);
  } else {
    bad++;
    for (const e of validate.errors) {
      const extra = e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : "";
      console.log(`invalid ${f}: ${e.instancePath || "/"} ${e.message}${extra}`);
    }
  }
}
process.exit(bad ? 1 : 0);
