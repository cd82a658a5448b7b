#!/usr/bin/env python3
"""Generates src/protocol/error_code_table.rs from Kafka's Errors.java and the exception
classes beside it (the retriable flag comes from each class extending RetriableException).

Usage: python3 gen_errors.py <Errors.java> <dir of org/apache/kafka/common/errors/*.java> <out.rs>
"""
import os
import re
import sys

errors_java, errors_dir, out = sys.argv[1:4]
text = open(errors_java).read()
body = text[text.index("public enum Errors {"):]
entries = re.findall(r'^\s{4}([A-Z_0-9]+)\((-?\d+),\s*(null|"(?:[^"\\]|\\.)*"(?:\s*\+\s*"(?:[^"\\]|\\.)*")*)\s*,\s*(?:message\s*->\s*null|([A-Za-z0-9_]+)::new)', body, re.M | re.S)

parents = {}
for fn in os.listdir(errors_dir):
    src = open(os.path.join(errors_dir, fn)).read()
    for m in re.finditer(r"class\s+(\w+)\s+extends\s+(\w+)", src):
        parents[m.group(1)] = m.group(2)


def retriable(cls):
    seen = set()
    while cls and cls not in seen:
        if cls == "RetriableException":
            return True
        seen.add(cls)
        cls = parents.get(cls)
    return False


rows = []
for name, code, desc, cls in entries:
    if desc == "null":
        d = ""
    else:
        d = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', desc))
    rows.append((int(code), name, retriable(cls) if cls else False, d))

with open(out, "w") as f:
    f.write("// Generated from Apache Kafka's Errors.java by src/protocol/api/gen_errors.py. Do not edit.\n\n")
    f.write("use super::error_code::ErrorCode;\n\n")
    f.write("impl ErrorCode {\n")
    for code, name, r, d in rows:
        f.write(f"    /// {d or 'No error.'}\n    pub const {name}: ErrorCode = ErrorCode({code});\n")
    f.write("}\n\n")
    f.write("/// `(code, name, retriable, description)` for every code Kafka defines.\n")
    f.write("pub(crate) const TABLE: &[(i16, &str, bool, &str)] = &[\n")
    for code, name, r, d in sorted(rows):
        dd = d.replace("\\", "\\\\").replace('"', '\\"')
        f.write(f'    ({code}, "{name}", {str(r).lower()}, "{dd}"),\n')
    f.write("];\n")
print(len(rows), "codes")
