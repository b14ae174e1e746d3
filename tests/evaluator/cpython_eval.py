"""Reference oracle for tests/evaluator/cpython_conformance_test.ts: evaluates each JSON line of the
input file with CPython and prints `ok <repr>` or `err <kind>` per line (same mapping as the table).
The original kunai ran on Python 2, whose str(float) (what `%s` and str() print) keeps 12 significant
digits: str() and the `%` of a string are given that rule here (repr() is the same in 2.7 and 3)."""
import ast
import ipaddress
import math
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


def py2_float_str(x):
    """Python 2.7's str(float): '%.12g' digits, exponent from 1e11 or below 1e-4, '.0' kept."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    mant, exp = ("%.11e" % x).split("e")
    exp = int(exp)
    sign = "-" if mant.startswith("-") else ""
    digits = mant.lstrip("-").replace(".", "")
    # 2.7's dtoa keeps the zeros of an integral value below 1e15 whose 13th digit is an exact tie
    # rounded down to even (its "small integer" path): str(1000000000005.0) == '1.00000000000e+12'
    whole = str(int(abs(x))) if x == int(x) and abs(x) < 1e15 else ""
    if not (len(whole) >= 13 and whole[12:] == "5".ljust(len(whole) - 12, "0") and int(whole[11]) % 2 == 0):
        digits = digits.rstrip("0") or "0"
    if exp < -4 or exp >= 11:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, m, "-" if exp < 0 else "+", abs(exp))
    if exp < 0:
        return sign + "0." + "0" * (-exp - 1) + digits
    return sign + digits[: exp + 1].ljust(exp + 1, "0") + "." + (digits[exp + 1:] or "0")


class Py2Float(float):
    """A float that `%s` prints as Python 2 did."""

    def __str__(self):
        return py2_float_str(self)


def py2_str(x=""):
    return py2_float_str(x) if type(x) is float else str(x)


def py2_mod(a, b):
    if isinstance(a, str):
        if type(b) is float:
            b = Py2Float(b)
        elif type(b) is tuple:
            b = tuple(Py2Float(x) if type(x) is float else x for x in b)
    return a % b


class ModToCall(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Mod):
            return ast.copy_location(
                ast.Call(func=ast.Name(id="__py2_mod", ctx=ast.Load()), args=[node.left, node.right], keywords=[]),
                node,
            )
        return node


def py2_eval(expr):
    tree = ModToCall().visit(ast.parse(expr, mode="eval"))
    return eval(compile(ast.fix_missing_locations(tree), "<expr>", "eval"), GLOBALS)


GLOBALS = {"__builtins__": {}, "abs": abs, "min": min, "max": max, "round": round, "int": int,
           "float": float, "str": py2_str, "len": len, "ip_in_range": ip_in_range,
           "fileexists": fileexists, "grep": grep, "__py2_mod": py2_mod}
warnings.simplefilter("ignore")
for line in open(sys.argv[1]):
    expr = json.loads(line)
    try:
        value = py2_eval(expr)
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
