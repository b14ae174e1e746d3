"""Renders each case of a JSON file with Jinja2 (as the Python kunai did: autoescape off; generators
with trim_blocks, lstrip_blocks and keep_trailing_newline) and prints {name: output or "ERROR <type>"} as JSON.
Templates named by include/import are read from the directory given as the second argument.

A case with "gen" renders with a generator's variables built from its ctx ({"members": [...], "self": uuid,
"kv": {key: text}}) as the reference's generators gave them: node, nodes (uuid -> record), ok_nodes(service)
((node, service) tuples of alive nodes out of maintenance whose service has state_id 0, sorted by name, uuid)
and kv(key) ("" when absent)."""
import json
import sys

import jinja2


def generator_context(ctx):
    members = ctx["members"]
    by_uuid = {m["uuid"]: m for m in members}

    def ok_nodes(service):
        out = []
        for m in members:
            s = (m.get("services") or {}).get(service)
            if m["state"] == "alive" and not m.get("maintenance") and s is not None and s.get("state_id") == 0:
                out.append((m, s))
        return sorted(out, key=lambda p: (p[0]["name"], p[0]["uuid"]))

    def kv(key):
        return ctx.get("kv", {}).get(str(key), "")

    return {"node": by_uuid[ctx["self"]], "nodes": by_uuid, "ok_nodes": ok_nodes, "kv": kv}


cases = json.load(open(sys.argv[1]))
loader = jinja2.FileSystemLoader(sys.argv[2]) if len(sys.argv) > 2 else None
envs = {
    False: jinja2.Environment(autoescape=False, loader=loader),
    True: jinja2.Environment(
        autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, loader=loader
    ),
}
out = {}
for case in cases:
    try:
        ctx = case.get("ctx", {})
        if case.get("gen"):
            ctx = generator_context(ctx)
        out[case["name"]] = envs[case.get("trim", False)].from_string(case["tpl"]).render(**ctx)
    except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
        out[case["name"]] = "ERROR " + type(e).__name__
print(json.dumps(out))
