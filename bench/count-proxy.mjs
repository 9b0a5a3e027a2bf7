// Counts the bytes core sends to the edge's /internal/v1/fanout and forwards
// them (scripts/bench-bigroom.sh): core's EDGE_FANOUT_URL points here.
//   node bench/count-proxy.mjs --port P --to http://127.0.0.1:EDGE_PORT   (GET /count → {bytes, posts})
import http from "node:http";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({ options: { port: { type: "string" }, to: { type: "string" } } });
let bytes = 0;
let posts = 0;
http
  .createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/count") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify({ bytes, posts }));
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    bytes += body.length;
    posts += 1;
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)));
    try {
      const r = await fetch(o.to + req.url, { method: req.method, headers, body });
      res.writeHead(r.status, { "content-type": r.headers.get("content-type") || "application/json" });
      res.end(Buffer.from(await r.arrayBuffer()));
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  })
  .listen(Number(o.port), "127.0.0.1", () => console.log(`listening ${o.port}`));
