// Runs a wasm32-wasip1 program (a filter example built with the `wasm` profile) under
// Node's WASI, V8 being the engine Envoy runs the filter in, and prints the CPU time of
// its run (after compilation) as `cpu_ms N` on stderr:
//   node bench/wasm-cpu.mjs target/wasm32-wasip1/wasm/examples/usage_tap_wasm.wasm 20000 strip
// The proxy-wasm SDK exports `_initialize` beside `_start`; WASI.start wants only one,
// so only `_start` is handed on. Host imports (the proxy-wasm ABI) are stubbed.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, exit } from "node:process";
const [file, ...args] = argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [file, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(file));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.module === "wasi_snapshot_preview1" || imp.kind !== "function") continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => { throw new Error("host call"); };
}
const instance = await WebAssembly.instantiate(module, imports);
const t0 = process.cpuUsage();
const code = wasi.start({ exports: { memory: instance.exports.memory, _start: instance.exports._start } });
const t = process.cpuUsage(t0);
console.error(`cpu_ms ${(t.user + t.system) / 1000}`);
exit(code);
