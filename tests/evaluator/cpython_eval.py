"""Reference oracle for tests/evaluator/cpython_conformance_test.ts: evaluates each JSON line of the
input file with CPython and prints `ok <repr>` or `err <kind>` per line (same mapping as the table)."""
import ipaddress
import json
import os
import sys
import warnings


def ip_in_range(ip, cidr):
    if not isinstance(ip, str) or not isinstance(cidr, str):
        raise TypeError("str expected")
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


def fileexists(path):
    if not isinstance(path, str):
        raise TypeError("str expected")
    return os.path.exists(path)


def grep(text, path, regexp=False):
    if not isinstance(path, str) or not isinstance(text, str):
        raise TypeError("str expected")
    try:
        with open(path) as f:
            return any(text.lower() in line.lower() for line in f)
    except OSError:
        return False


GLOBALS = {"__builtins__": {}, "abs": abs, "min": min, "max": max, "round": round, "int": int,
           "float": float, "str": str, "len": len, "ip_in_range": ip_in_range,
           "fileexists": fileexists, "grep": grep}
warnings.simplefilter("ignore")
for line in open(sys.argv[1]):
    expr = json.loads(line)
    try:
        value = eval(expr, GLOBALS)
        out = "err runtime" if isinstance(value, complex) else "ok " + repr(value)
    except SyntaxError:
        out = "err syntax"
    except NameError:
        out = "err name"
    except TypeError:
        out = "err type"
    except (ZeroDivisionError, ValueError, OverflowError):
        out = "err runtime"
    except Exception as ex:  # noqa: BLE001
        out = "err other " + type(ex).__name__
    print(json.dumps(out), flush=True)
