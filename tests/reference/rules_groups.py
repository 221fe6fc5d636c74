"""Prints the rule groups of a Prometheus rules file, or of the PrometheusRule in `helm template`
output, as canonical JSON (sorted keys), so that tests compare what the two mean, not how they
are written.

usage: rules_groups.py FILE            a rules file (groups: …)
       rules_groups.py --helm FILE     helm template output: the one PrometheusRule's spec.groups
"""

import json
import sys

import yaml


def main():
    helm = sys.argv[1] == "--helm"
    path = sys.argv[2] if helm else sys.argv[1]
    with open(path) as f:
        if helm:
            docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "PrometheusRule"]
            if len(docs) != 1:
                sys.exit(f"{path}: {len(docs)} PrometheusRules, want 1")
            groups = docs[0]["spec"]["groups"]
        else:
            groups = yaml.safe_load(f)["groups"]
    print(json.dumps(groups, sort_keys=True, indent=1))


if __name__ == "__main__":
    main()
