"""CPython's pickle as the oracle for kunai's restricted unpickler (tests/metrics/pickle_test.ts).

Reads a JSON request on stdin, writes a JSON answer on stdout:
- {"loads": [hex, ...]}: each pickle read by CPython's Unpickler (encoding 'utf-8' as carbon's
  SafeUnpickler; find_class refuses every global, so nothing is imported or called), answered as
  {"ok": described value} or {"err": exception type name}, plus carbon's view of the points
  (float(timestamp), float(value) of each (path, (timestamp, value)) entry); with "carbon": true,
  also what carbon's own MetricPickleReceiver.stringReceived passes on (when graphite-carbon is
  installed), to check that view against carbon itself.
- {"dumps": [[source, protocol], ...]}: each Python literal (ast.literal_eval; the strings "NAN",
  "INF", "NINF" stand for those floats; SELF_LIST, SHARED and BYTEARRAY<literal> for what they
  say; SYSTEM:<command> an object whose unpickling would run the command) pickled at that protocol,
  as hex (pickling runs nothing).
"""
import ast
import io
import json
import math
import pickle
import struct
import sys

DEPTH = 40


class Refusing(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError("global %s.%s refused" % (module, name))


def describe(v, depth=0):
    if depth > DEPTH:
        return ["deep"]
    if v is None:
        return ["none"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)]
    if isinstance(v, float):
        return ["float", "nan" if math.isnan(v) else struct.pack(">d", v).hex()]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, (bytes, bytearray)):
        return ["bytes", bytes(v).hex()]
    if isinstance(v, list):
        return ["list", [describe(x, depth + 1) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [describe(x, depth + 1) for x in v]]
    return ["other", type(v).__name__]


def fbits(x):
    return "nan" if math.isnan(x) else struct.pack(">d", x).hex()


def carbon_points(obj):
    """What carbon's MetricPickleReceiver takes from a frame: path and float(ts), float(value)."""
    out = []
    try:
        entries = list(obj) if isinstance(obj, (list, tuple)) else None
    except Exception:
        entries = None
    if entries is None:
        return None
    for raw in entries:
        try:
            (metric, (ts, value)) = raw
            dp = (float(ts), float(value))
        except Exception:
            out.append(None)
            continue
        if isinstance(metric, bytes):
            try:
                metric = metric.decode("utf-8")
            except Exception:
                out.append(None)
                continue
        if not isinstance(metric, str):
            out.append(None)
            continue
        out.append([metric, fbits(dp[0]), fbits(dp[1])])
    return out


def carbon_receiver():
    """carbon's own MetricPickleReceiver.stringReceived (Debian's graphite-carbon), or None."""
    try:
        from carbon.protocols import MetricPickleReceiver
        from carbon.util import get_unpickler
    except ImportError:
        return None

    def receive(data):
        r = MetricPickleReceiver.__new__(MetricPickleReceiver)
        r.unpickler = get_unpickler(insecure=False)
        r.peerName = "test"
        got = []
        r.metricReceived = lambda m, dp: got.append([m, fbits(dp[0]), fbits(dp[1])])
        try:
            r.stringReceived(data)
        except Exception as e:  # carbon stops the frame there (float(huge int), a bytes path)
            got.append(["EXC", type(e).__name__])
        return got

    return receive


def loads(h):
    data = bytes.fromhex(h)
    try:
        obj = Refusing(io.BytesIO(data), encoding="utf-8").load()
    except RecursionError:
        return {"err": "RecursionError"}
    except Exception as e:  # the answer is which exception, never a crash of the oracle
        return {"err": type(e).__name__}
    try:
        return {"ok": describe(obj), "points": carbon_points(obj)}
    except RecursionError:
        return {"ok": ["deep"], "points": None}


SPECIAL = {"NAN": float("nan"), "INF": float("inf"), "NINF": float("-inf")}


def special(v):
    """The strings "NAN", "INF", "NINF" inside a literal stand for those floats."""
    if isinstance(v, str) and v in SPECIAL:
        return SPECIAL[v]
    if isinstance(v, list):
        return [special(x) for x in v]
    if isinstance(v, tuple):
        return tuple(special(x) for x in v)
    return v


class System:
    """What an attacker sends: unpickling it (by CPython's pickle.loads) would run a command."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os
        return (os.system, (self.cmd,))


def value_of(src):
    if src == "SELF_LIST":
        v = []
        v.append(v)
        return v
    if src == "SHARED":
        x = [1, "s"]
        return [x, x, (x,)]
    if src.startswith("SYSTEM:"):
        return System(src[len("SYSTEM:"):])
    if src.startswith("BYTEARRAY"):
        return bytearray(ast.literal_eval(src[len("BYTEARRAY"):]))
    return special(ast.literal_eval(src))


def main():
    req = json.load(sys.stdin)
    if "loads" in req:
        out = [loads(h) for h in req["loads"]]
        receive = carbon_receiver() if req.get("carbon") else None
        if receive:
            for o, h in zip(out, req["loads"]):
                o["carbon"] = receive(bytes.fromhex(h))
        json.dump(out, sys.stdout)
    else:
        json.dump([pickle.dumps(value_of(s), protocol=p).hex() for s, p in req["dumps"]], sys.stdout)


sys.setrecursionlimit(10000)
main()
