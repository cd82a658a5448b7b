"""Shared helpers of the kafka-python peer scripts.

Records travel on stdin/stdout as one line each, binary-safe and without JSON:

    PARTITION OFFSET TIMESTAMP KEY VALUE HEADERS

KEY and VALUE are "-" for null, else "x" followed by the hex of the bytes ("x" alone is
empty). HEADERS is "-" for none, else comma-separated KEYHEX:VALUE with VALUE as above.
Producer input lines are "PARTITION KEY VALUE HEADERS" with PARTITION "-" for the
partitioner's choice.
"""
import ast


def enc(b):
    return "-" if b is None else "x" + bytes(b).hex()


def dec(s):
    if s == "-":
        return None
    if not s.startswith("x"):
        raise ValueError("bad bytes token %r" % s)
    return bytes.fromhex(s[1:])


def enc_headers(headers):
    if not headers:
        return "-"
    return ",".join(k.encode().hex() + ":" + enc(v) for k, v in headers)


def dec_headers(s):
    if s == "-":
        return []
    out = []
    for item in s.split(","):
        k, v = item.split(":", 1)
        out.append((bytes.fromhex(k).decode(), dec(v)))
    return out


def configs(pairs):
    """key=value arguments to a dict; values are Python literals when they parse as one."""
    out = {}
    for pair in pairs:
        k, v = pair.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out
