/**
 * Run by yaml_lazy_test.ts in a fresh process (the YAML parser's state is per isolate): resolves
 * the configuration directory given, synchronously then asynchronously, and prints what happened.
 */
import { resolveConfig, resolveConfigAsync, yamlLoaded, YamlNotLoaded } from "../../lib/config/mod.ts";

const cfgDir = Deno.args[0];
let sync: string;
try {
  sync = `ok ${resolveConfig({ cfgDir }).params.name}`;
} catch (err) {
  sync = err instanceof YamlNotLoaded ? "YamlNotLoaded" : `error ${(err as Error).message}`;
}
const loadedAfterSync = yamlLoaded();
const cfg = await resolveConfigAsync({ cfgDir });
console.log(JSON.stringify({ sync, loadedAfterSync, name: cfg.params.name, loaded: yamlLoaded() }));
