"""Evaluates Graphite targets with graphite-web's own functions (Debian's graphite-web) over the
series of a JSON file, and prints every result series as JSON (the oracle of
graphite_conformance_test.ts). Data is served by a fetch that slices like whisper does."""
import json
import os
import sys
import warnings
from datetime import datetime, timezone

warnings.filterwarnings("ignore")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graphite.settings")
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import django  # noqa: E402
from django.conf import settings  # noqa: E402

# the tag database (tag_db below) lives in a temporary SQLite file, never graphite's own: set
# before django.setup(), which fixes the connection settings
TAGDB_DIR = tempfile.mkdtemp(prefix="kunai-graphite-tagdb-")
atexit.register(shutil.rmtree, TAGDB_DIR, True)
settings.DATABASES["default"]["NAME"] = os.path.join(TAGDB_DIR, "graphite.db")
django.setup()
from graphite.render import evaluator  # noqa: E402
from graphite.render.datalib import TimeSeries  # noqa: E402
from graphite.finders.utils import BaseFinder  # noqa: E402,F401
from graphite.finders import match_entries  # noqa: E402

spec = json.load(open(sys.argv[1]))
series = spec.get("series", {})


def tag_db():
    """graphite-web's default tag database (LocalDatabaseTagDB) on a fresh SQLite file, every
    series tagged as carbon tags them when it creates them."""
    from django.core.management import call_command
    from django.db import connection
    from graphite.storage import STORE

    assert connection.settings_dict["NAME"].startswith(TAGDB_DIR), connection.settings_dict["NAME"]
    settings.TAGDB_CACHE_DURATION = 0
    call_command("migrate", "tags", verbosity=0)
    return STORE.tagdb


def err(e):
    return "ERROR " + type(e).__name__ + ": " + str(e)


if "events" in spec:
    # graphite-web's events app (graphite/events) on the temporary SQLite file: every event posted
    # through its own view (POST /events/), then every query through get_data; ids are left out
    # (graphite-web's are its table's row numbers)
    from django.core.management import call_command  # noqa: E402
    from django.db import connection  # noqa: E402
    from django.test import RequestFactory  # noqa: E402
    from graphite.events import views as event_views  # noqa: E402

    assert connection.settings_dict["NAME"].startswith(TAGDB_DIR), connection.settings_dict["NAME"]
    call_command("migrate", verbosity=0)
    rf = RequestFactory()
    ev = spec["events"]
    posted = []
    for body in ev.get("post", []):
        r = event_views.view_events(rf.post("/events/", data=json.dumps(body), content_type="application/json"))
        posted.append({"status": r.status_code, "body": r.content.decode()})
    answers = []
    for query in ev.get("queries", []):
        r = event_views.get_data(rf.get("/events/get_data", data=query))
        answers.append([{k: v for k, v in e.items() if k != "id"} for e in json.loads(r.content)])
    print(json.dumps({"posted": posted, "answers": answers}))
    sys.exit(0)

if "tags" in spec:
    from graphite.tags.utils import TaggedSeries  # noqa: E402

    t = spec["tags"]
    out = {"parse": [], "queries": [], "autoTags": [], "autoValues": [], "listTags": [], "getTag": []}
    for name in t.get("parse", []):
        try:
            out["parse"].append(TaggedSeries.parse(name).path)
        except Exception as e:  # noqa: BLE001
            out["parse"].append(err(e))
    db = tag_db()
    for name in t.get("names", []):
        db.tag_series(name)

    def attempt(f):
        try:
            return f()
        except Exception as e:  # noqa: BLE001
            return err(e)

    out["queries"] = [attempt(lambda q=q: db.find_series(q)) for q in t.get("queries", [])]
    out["autoTags"] = [attempt(lambda a=a: db.auto_complete_tags(a[0], tagPrefix=a[1], limit=a[2]))
                       for a in t.get("autoTags", [])]
    out["autoValues"] = [attempt(lambda a=a: db.auto_complete_values(a[0], a[1], valuePrefix=a[2], limit=a[3]))
                         for a in t.get("autoValues", [])]
    out["listTags"] = [attempt(lambda a=a: [x["tag"] for x in db.list_tags(tagFilter=a[0], limit=a[1])])
                       for a in t.get("listTags", [])]

    def get_tag(a):
        r = db.get_tag(a[0], valueFilter=a[1], limit=a[2])
        return None if r is None else {"tag": r["tag"], "values": [
            {"value": v["value"], "count": v["count"]} for v in r["values"]]}

    out["getTag"] = [attempt(lambda a=a: get_tag(a)) for a in t.get("getTag", [])]
    print(json.dumps(out))
    sys.exit(0)

tagdb = None
if any(";" in name for name in series):
    tagdb = tag_db()
    for name in series:
        tagdb.tag_series(name)
# a wrong argument is an error, as kunai's 400, rather than a logged warning and a call anyway
settings.ENFORCE_INPUT_VALIDATION = True


def matches(pattern, name):
    p, n = pattern.split("."), name.split(".")
    return len(p) == len(n) and all(match_entries([b], a) for a, b in zip(p, n))


def selected(pathExpr):
    """The names a path selects as graphite-web's store does: seriesByTag through the tag
    database, a path with ';' one tagged series exactly, a glob only untagged series."""
    if pathExpr.startswith("seriesByTag("):
        from graphite.render.grammar import grammar

        exprs = tuple(t.string[1:-1] for t in grammar.parseString(pathExpr).expression.call.args if t.string)
        return set(tagdb.find_series(exprs))
    if ";" in pathExpr:
        return {pathExpr} if pathExpr in series else set()
    return {name for name in series if ";" not in name and matches(pathExpr, name)}


def fetch(requestContext, pathExpr):
    start = int(requestContext["startTime"].timestamp())
    end = int(requestContext["endTime"].timestamp())
    out = []
    names = selected(pathExpr)
    for name in sorted(series):
        if name not in names:
            continue
        s = series[name]
        step = s["step"]
        lo = start - (start % step) + step
        hi = end - (end % step) + step
        vals = [s["values"][(t - s["start"]) // step] if 0 <= (t - s["start"]) // step < len(s["values"]) else None
                for t in range(lo, hi, step)]
        out.append(TimeSeries(name, lo, hi, step, vals, pathExpression=pathExpr))
    return out


evaluator.fetchData = fetch
evaluator.prefetchData = lambda *a, **k: None

if "times" in spec:
    import pytz  # noqa: E402
    from graphite.render.attime import parseATTime  # noqa: E402

    now = datetime.fromtimestamp(spec["now"], pytz.utc)
    out = {}
    for text in spec["times"]:
        try:
            out[text] = int(parseATTime(text, pytz.utc, now).timestamp())
        except Exception as e:  # noqa: BLE001
            out[text] = "ERROR " + type(e).__name__
    print(json.dumps(out))
    sys.exit(0)

if "functions" in spec:
    from graphite.functions import SeriesFunctions  # noqa: E402

    funcs = SeriesFunctions()
    out = {}
    for name in spec["functions"]:
        f = funcs.get(name)
        out[name] = None if f is None else {"group": f.group, "params": [p.toJSON() for p in f.params]}
    print(json.dumps(out).replace("Infinity", "1e9999"))
    sys.exit(0)

if "regex" in spec:
    import re  # noqa: E402

    out = []
    for pattern, repl, text in spec["regex"]:
        try:
            m = re.search(pattern, text)
            out.append({"search": [m.start(), m.end()] if m else None, "sub": re.sub(pattern, repl, text)})
        except Exception as e:  # noqa: BLE001
            out.append("ERROR " + type(e).__name__ + ": " + str(e))
    print(json.dumps(out))
    sys.exit(0)

if "globs" in spec:
    print(json.dumps({p: sorted(n for n in spec["names"] if matches(p, n)) for p in spec["globs"]}))
    sys.exit(0)

results = {}
for target in spec["targets"]:
    ctx = {
        "startTime": datetime.fromtimestamp(spec["from"], timezone.utc),
        "endTime": datetime.fromtimestamp(spec["until"], timezone.utc),
        "now": datetime.fromtimestamp(spec["until"], timezone.utc),
        "localOnly": False,
        "data": [],
        "prefetched": {},
        "xFilesFactor": 0,
    }
    try:
        got = evaluator.evaluateTarget(ctx, target)
        results[target] = [{"name": s.name, "start": s.start, "step": s.step, "values": list(s)} for s in got]
    except Exception as e:  # noqa: BLE001
        results[target] = "ERROR " + type(e).__name__ + ": " + str(e)
print(json.dumps(results))
