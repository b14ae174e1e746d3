"""Renders each case of a JSON file with Jinja2 (as the Python kunai did: autoescape off; generators
with trim_blocks, lstrip_blocks and keep_trailing_newline) and prints {name: output or "ERROR <type>"} as JSON.
Templates named by include/import are read from the directory given as the second argument."""
import json
import sys

import jinja2

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
        out[case["name"]] = envs[case.get("trim", False)].from_string(case["tpl"]).render(**case.get("ctx", {}))
    except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
        out[case["name"]] = "ERROR " + type(e).__name__
print(json.dumps(out))
