// Runs a wasm32-wasip1 test binary under Node's WASI, as cargo's target runner:
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node --single-threaded scripts/wasi-runner.mjs" cargo test --target wasm32-wasip1
// (--single-threaded: Node with its background threads crashed at exit, after the
// tests passed, about one run in two.)
// The filter's unit tests then run compiled for the target the filter ships on.
// Imports from the proxy-wasm ABI module ("env") are stubbed: the tests never call
// the host, and a stub that is called fails loudly.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env, exit } from "node:process";

const [file, ...args] = argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [file, ...args], env, preopens: { "/": "/" }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(file));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.module === "wasi_snapshot_preview1" || imp.kind !== "function") continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => {
    throw new Error(`host function ${imp.module}.${imp.name} called in a unit test`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
exit(wasi.start(instance));
