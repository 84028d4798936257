#!/usr/bin/python3
"""Validates NDJSON records against docs/record.schema.json (JSON Schema 2020-12).
Usage: validate.py SCHEMA FILE...   Prints each invalid record's file:line and reason; exit 1 if any.
Needs Debian's python3-jsonschema."""
import json, sys
from jsonschema import Draft202012Validator

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = n = 0
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            n += 1
            try:
                rec = json.loads(line)
            except ValueError as e:
                print(f"{path}:{i}: not JSON: {e}"); bad += 1; continue
            for err in sorted(v.iter_errors(rec), key=lambda e: list(e.path))[:3]:
                print(f"{path}:{i}: {'/'.join(map(str, err.path))}: {err.message[:200]}"); bad += 1
print(f"{n} records, {bad} errors")
sys.exit(1 if bad or n == 0 else 0)
