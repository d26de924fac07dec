// Parse Mermaid diagrams with Mermaid's own parser, for the page generator's tests.
//
// Input (stdin): a JSON array of diagram sources (strings).
// Output (stdout): a JSON array, one verdict per diagram in order:
//   {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<parser message>"}.
// Exit status: 0 when every verdict was written (whatever they say), 2 on unusable input.
//
// Mermaid expects a browser; jsdom provides the window and document it touches while
// parsing (DOMPurify is set up against them at import time, hence the globals first).
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

let diagrams;
try {
  diagrams = JSON.parse(await readStdin());
} catch (error) {
  process.stderr.write(`mermaid-check: stdin is not JSON: ${error.message}\n`);
  process.exit(2);
}
if (!Array.isArray(diagrams) || !diagrams.every((d) => typeof d === "string")) {
  process.stderr.write("mermaid-check: stdin must be a JSON array of strings\n");
  process.exit(2);
}

const verdicts = [];
for (const text of diagrams) {
  try {
    const result = await mermaid.parse(text);
    verdicts.push({ ok: true, type: result.diagramType });
  } catch (error) {
    verdicts.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(verdicts) + "\n");
